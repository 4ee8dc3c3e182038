/** This package's version, as package.json states it (test/version.test.ts keeps them equal). */
export const VERSION = "0.1.0";
