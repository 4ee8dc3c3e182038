import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { type ProjectFixture, projectFixture } from "../../test/support/project-fixture.js";
import {
  FileNotFoundError,
  NotARegularFileError,
  PathOutsideProjectError,
  Project,
  ProjectOpenError,
} from "../index.js";

describe("Project confinement", () => {
  let fx: ProjectFixture;
  beforeEach(async () => {
    fx = await projectFixture({ "src/a.ts": "export const a = 1;\n" });
    writeFileSync(join(fx.outside, "secret.txt"), "outside the project\n");
  });
  afterEach(() => fx.remove());

  it("opens on the real path of a symlinked directory", async () => {
    symlinkSync(fx.root, join(fx.outside, "alias"));
    const project = await Project.open(join(fx.outside, "alias"));
    assert.equal(project.root, fx.root);
  });

  it("refuses to open a missing directory, naming it", async () => {
    await assert.rejects(Project.open(join(fx.outside, "nope")), (error: unknown) => {
      assert.ok(error instanceof ProjectOpenError);
      assert.match(error.message, /nope.*no such directory/);
      return true;
    });
  });

  it("refuses to open a file as a project", async () => {
    await assert.rejects(Project.open(fx.at("src/a.ts")), /not a directory/);
  });

  it("resolves a relative path inside the project", async () => {
    const resolved = await fx.project.resolve("src/../src/a.ts");
    assert.deepEqual(resolved, { absolute: fx.at("src/a.ts"), relative: "src/a.ts", exists: true });
  });

  it("resolves an absolute path inside the project", async () => {
    assert.equal((await fx.project.resolve(fx.at("src/a.ts"))).relative, "src/a.ts");
  });

  it("refuses ../ out of the project", async () => {
    await assert.rejects(fx.project.readFile("../secret.txt", 1000), (error: unknown) => {
      assert.ok(error instanceof PathOutsideProjectError);
      assert.equal(error.code, "path_outside_project");
      assert.match(error.message, /climbs out/);
      return true;
    });
  });

  it("refuses an absolute path outside the project", async () => {
    await assert.rejects(fx.project.readFile("/etc/passwd", 1000), PathOutsideProjectError);
  });

  it("refuses a file symlink pointing to /etc", async () => {
    symlinkSync("/etc/passwd", fx.at("passwd"));
    await assert.rejects(fx.project.readFile("passwd", 1000), /symbolic link on the way leads out/);
  });

  it("refuses a path through a chain of directory symlinks that ends outside", async () => {
    symlinkSync(fx.outside, fx.at("up"));
    symlinkSync(fx.at("up"), fx.at("src/again"));
    await assert.rejects(fx.project.readFile("src/again/secret.txt", 1000), PathOutsideProjectError);
  });

  it("refuses to create a file through a directory symlink that leads out", async () => {
    symlinkSync(fx.outside, fx.at("up"));
    await assert.rejects(fx.project.writeFileAtomic("up/new.txt", "x"), PathOutsideProjectError);
    assert.deepEqual(fx.names(".."), ["project", "secret.txt"]);
  });

  it("refuses to write through a dangling symlink", async () => {
    symlinkSync(join(fx.outside, "not-yet"), fx.at("dangling"));
    await assert.rejects(fx.project.writeFileAtomic("dangling", "x"), /target does not exist/);
  });

  it("refuses /proc/self/environ reached by a symlink", async () => {
    symlinkSync("/proc/self/environ", fx.at("env"));
    await assert.rejects(fx.project.readFile("env", 100_000), PathOutsideProjectError);
  });

  it("refuses /dev/null reached by a symlink", async () => {
    symlinkSync("/dev/null", fx.at("null"));
    await assert.rejects(fx.project.readFile("null", 1000), PathOutsideProjectError);
  });

  it("refuses a FIFO inside the project without blocking on it", async () => {
    execFileSync("mkfifo", [fx.at("pipe")]);
    await assert.rejects(fx.project.readFile("pipe", 1000), (error: unknown) => {
      assert.ok(error instanceof NotARegularFileError);
      assert.match(error.message, /FIFO/);
      return true;
    });
  });

  it("refuses a symlink to a FIFO inside the project without blocking on it", async () => {
    execFileSync("mkfifo", [fx.at("pipe")]);
    symlinkSync(fx.at("pipe"), fx.at("to-pipe"));
    await assert.rejects(fx.project.readFile("to-pipe", 1000), /FIFO/);
  });

  it("refuses a device node inside the project", {
    skip: process.getuid?.() !== 0 && "mknod needs root",
  }, async () => {
    execFileSync("mknod", [fx.at("null"), "c", "1", "3"]);
    await assert.rejects(fx.project.readFile("null", 1000), /a device, not a regular file/);
  });

  it("refuses a socket inside the project", async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(fx.at("sock"), resolve));
    try {
      await assert.rejects(fx.project.readFile("sock", 1000), /a socket/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("refuses a directory where a file is read", async () => {
    await assert.rejects(fx.project.readFile("src", 1000), /a directory, not a file/);
  });

  it("names a loop of symlinks as such", async () => {
    symlinkSync(fx.at("loop-b"), fx.at("loop-a"));
    symlinkSync(fx.at("loop-a"), fx.at("loop-b"));
    await assert.rejects(fx.project.readFile("loop-a", 1000), { code: "symlink_loop" });
  });

  it("says a missing file does not exist", async () => {
    await assert.rejects(fx.project.readFile("src/missing.ts", 1000), FileNotFoundError);
  });

  it("follows a symlink that stays inside the project", async () => {
    symlinkSync(fx.at("src/a.ts"), fx.at("link.ts"));
    const read = await fx.project.readFile("link.ts", 1000);
    assert.equal(read.bytes.toString(), "export const a = 1;\n");
    assert.equal(read.path.relative, "src/a.ts");
  });

  it("caps a read at maxBytes and says it was cut", async () => {
    fx.write("big.txt", "x".repeat(5000));
    const read = await fx.project.readFile("big.txt", 1000);
    assert.deepEqual([read.bytes.length, read.truncated, read.size], [1000, true, 5000]);
  });

  it("creates missing directories for a new file inside the project", async () => {
    await fx.project.writeFileAtomic("deep/er/new.txt", "hello");
    assert.equal(fx.read("deep/er/new.txt"), "hello");
  });

  it("keeps a replaced file's mode", async () => {
    const path = fx.write("run.sh", "#!/bin/sh\n");
    execFileSync("chmod", ["755", path]);
    await fx.project.writeFileAtomic("run.sh", "#!/bin/sh\necho hi\n");
    assert.equal(execFileSync("stat", ["-c", "%a", path]).toString().trim(), "755");
  });

  it("leaves the old content and no temp file when a write fails before its rename", async () => {
    const failing = await projectFixture(
      { "a.txt": "old\n" },
      {
        beforeRename: () => {
          throw new Error("disk gone");
        },
      },
    );
    try {
      await assert.rejects(failing.project.writeFileAtomic("a.txt", "new\n"), /disk gone/);
      assert.equal(failing.read("a.txt"), "old\n");
      assert.deepEqual(failing.names(), ["a.txt"]);
    } finally {
      failing.remove();
    }
  });

  it("writes the new content to a temp file beside the target while the target keeps the old", async () => {
    let seen: { target: string; temp: string; dir: string } | undefined;
    const watched = await projectFixture(
      { "d/a.txt": "old\n" },
      {
        beforeRename: (temp) => {
          seen = {
            target: watched.read("d/a.txt"),
            temp: watched.read(join("d", temp.split("/").pop()!)),
            dir: temp,
          };
        },
      },
    );
    try {
      await watched.project.writeFileAtomic("d/a.txt", "new\n");
      assert.deepEqual([seen?.target, seen?.temp], ["old\n", "new\n"]);
      assert.ok(seen?.dir.startsWith(watched.at("d/")));
      assert.equal(watched.read("d/a.txt"), "new\n");
      assert.deepEqual(watched.names("d"), ["a.txt"]);
    } finally {
      watched.remove();
    }
  });

  it("refuses a directory swapped for an outside symlink after it was resolved", async () => {
    // The race the descriptor check closes: resolve sees a real directory, the open goes through a symlink.
    mkdirSync(fx.at("swap"));
    fx.write("swap/secret.txt", "inside\n");
    const project = fx.project;
    const resolve = project.resolve.bind(project);
    project.resolve = async (path) => {
      const resolved = await resolve(path);
      execFileSync("sh", ["-c", `rm -r '${fx.at("swap")}' && ln -s '${fx.outside}' '${fx.at("swap")}'`]);
      return resolved;
    };
    await assert.rejects(project.readFile("swap/secret.txt", 1000), PathOutsideProjectError);
  });
});
