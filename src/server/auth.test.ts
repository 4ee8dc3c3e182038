import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../errors.js";
import { Auth, hashToken, IMPLICIT_OWNER, loadTokens, newToken, parseTokens } from "./auth.js";
import { HttpError } from "./errors.js";
import { isLoopbackHost } from "./options.js";

describe("server auth: tokens", () => {
  it("finds the owner of a known bearer token, by its hash", () => {
    const token = newToken();
    const auth = new Auth([{ owner: "alice", sha256: hashToken(token) }]);
    assert.equal(auth.implicit, false);
    assert.equal(auth.ownerOf(`Bearer ${token}`), "alice");
    assert.equal(auth.ownerOf(`bearer   ${token}`), "alice");
  });

  it("refuses a missing, malformed or unknown token with 401 unauthorized", () => {
    const auth = new Auth([{ owner: "alice", sha256: hashToken(newToken()) }]);
    for (const header of [undefined, "", "Basic abc", "Bearer", `Bearer ${newToken()}`, "Bearer a b"]) {
      assert.throws(
        () => auth.ownerOf(header),
        (error: unknown) =>
          error instanceof HttpError && error.status === 401 && error.code === "unauthorized",
        String(header),
      );
    }
  });

  it("makes every request the implicit owner's when there are no tokens", () => {
    for (const auth of [new Auth(undefined), new Auth([])]) {
      assert.equal(auth.implicit, true);
      assert.equal(auth.ownerOf(undefined), IMPLICIT_OWNER);
    }
  });

  it("takes hashes in either case, and refuses the same hash twice", () => {
    const hash = hashToken("x");
    assert.deepEqual(parseTokens([{ owner: "a", sha256: hash.toUpperCase() }]), [
      { owner: "a", sha256: hash },
    ]);
    assert.throws(
      () =>
        parseTokens([
          { owner: "a", sha256: hash },
          { owner: "b", sha256: hash },
        ]),
      (error: unknown) => error instanceof InvalidArgumentError && error.argument === "tokens.1.sha256",
    );
  });

  it("refuses a tokens list that is not one, naming the field", () => {
    const cases: [unknown, string][] = [
      [{ owner: "a" }, "tokens"],
      [[{ owner: "a", sha256: "not-hex" }], "tokens.0.sha256"],
      [[{ owner: "a b", sha256: hashToken("x") }], "tokens.0.owner"],
      [[{ owner: "a", sha256: hashToken("x"), token: "plain" }], "tokens.0"],
    ];
    for (const [input, argument] of cases) {
      assert.throws(
        () => parseTokens(input),
        (error: unknown) => error instanceof InvalidArgumentError && error.argument === argument,
        JSON.stringify(input),
      );
    }
  });

  it("reads tokens from SESSIONVISOR_TOKENS, and none when it is unset", () => {
    const entry = { owner: "carol", sha256: hashToken("t") };
    assert.deepEqual(loadTokens({ env: { SESSIONVISOR_TOKENS: JSON.stringify([entry]) } }), [entry]);
    assert.equal(loadTokens({ env: {} }), undefined);
    assert.throws(
      () => loadTokens({ env: { SESSIONVISOR_TOKENS: "[{" } }),
      (error: unknown) => error instanceof InvalidArgumentError && error.argument === "SESSIONVISOR_TOKENS",
    );
  });

  it("makes tokens that differ, and hashes them as sha256sum would", () => {
    assert.notEqual(newToken(), newToken());
    assert.match(newToken(), /^svt_[A-Za-z0-9_-]{43}$/);
    // printf %s abc | sha256sum
    assert.equal(hashToken("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});

describe("server options: loopback addresses", () => {
  it("counts localhost, 127.0.0.0/8 and ::1 as loopback", () => {
    for (const host of [
      "localhost",
      "127.0.0.1",
      "127.1.2.3",
      "::1",
      "[::1]",
      "::ffff:127.0.0.1",
      "LOCALHOST",
    ]) {
      assert.equal(isLoopbackHost(host), true, host);
    }
  });

  it("counts any other address or name as not loopback", () => {
    for (const host of [
      "0.0.0.0",
      "::",
      "10.0.0.1",
      "192.168.1.2",
      "example.com",
      "128.0.0.1",
      "::ffff:10.0.0.1",
    ]) {
      assert.equal(isLoopbackHost(host), false, host);
    }
  });
});
