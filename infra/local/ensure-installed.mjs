// Runs before `npm start` and `npm test` on whatever Node the machine has (plain JS on purpose):
// a fresh clone installs itself on first use, so the README's two commands are all a newcomer needs.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";

const root = resolve(import.meta.dirname, "../..");
const installed = ["node_modules/.package-lock.json", "node_modules/.bin/node"].every((p) =>
  existsSync(resolve(root, p)),
);
if (!installed) {
  console.log("first run: installing dependencies with npm ci (Node 24 comes with them)…");
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const result = spawnSync(npm, ["ci"], { cwd: root, stdio: "inherit" });
  process.exit(result.status ?? 1);
}
