import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * How a function is bundled beyond esbuild's defaults, shared by CDK (infra/cdk/constructs/gsp-function.ts)
 * and the bench (test/bench/bundles.bench.ts), so the bench measures what is deployed.
 *
 * openpgp's rarely used algorithms (elliptic curves, legacy ciphers, argon2, bzip2) are loaded on first
 * use from `openpgp/lazy/*`: the package's own lightweight chunks, exported for Node by this repository's
 * patch (infra/patches). They stay out of the bundle and ship beside it, laid out as a package, so a
 * function never parses them at cold start and still has them should a key or message ever need one.
 */
export const OPENPGP_LAZY_MODULES = "openpgp/lazy/*";

/** Left out of every bundle: the AWS SDK v3 (the Lambda runtime provides it) and openpgp's lazy modules. */
export const EXTERNAL_MODULES: string[] = ["@aws-sdk/*", OPENPGP_LAZY_MODULES];

/** The installed openpgp package: its root and its package.json. */
function openpgpPackage() {
  const entry = fileURLToPath(import.meta.resolve("openpgp"));
  const root = entry.slice(0, entry.lastIndexOf("/dist/"));
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    version: string;
    license: string;
    exports: Record<string, unknown>;
  };
  return { root, manifest };
}

/**
 * Writes openpgp's lazy modules into a bundle's directory as `node_modules/openpgp`, with a package.json
 * that exports only them, so `import("openpgp/lazy/noble_curves")` in the bundle resolves there.
 * Returns the files written, relative to `outputDir`.
 */
export function shipOpenpgpLazyModules(outputDir: string): string[] {
  const { root, manifest } = openpgpPackage();
  const target = manifest.exports["./lazy/*"];
  if (typeof target !== "string" || !target.startsWith("./") || !target.endsWith("/*.min.mjs")) {
    throw new Error(
      `openpgp ${manifest.version} does not export ./lazy/* as this repository's patch does: is infra/patches applied (npm ci)?`,
    );
  }
  const chunkDir = target.slice(2, target.lastIndexOf("/"));
  const chunks = readdirSync(join(root, chunkDir)).filter(
    (f) => f.endsWith(".min.mjs") && f !== "openpgp.min.mjs",
  );
  const packageDir = join(outputDir, "node_modules", "openpgp");
  mkdirSync(join(packageDir, chunkDir), { recursive: true });
  const written = ["LICENSE", ...chunks.map((f) => join(chunkDir, f))];
  for (const file of written) copyFileSync(join(root, file), join(packageDir, file));
  const shipped = {
    name: "openpgp",
    version: manifest.version,
    license: manifest.license,
    type: "module",
    exports: { "./lazy/*": target },
  };
  writeFileSync(join(packageDir, "package.json"), `${JSON.stringify(shipped, null, 2)}\n`);
  written.push("package.json");
  return written.map((f) => join("node_modules", "openpgp", f));
}

/** The shell command CDK runs after bundling a function that holds keys (NodejsFunction's afterBundling hook). */
export function shipOpenpgpLazyModulesCommand(outputDir: string): string {
  return `"${process.execPath}" "${fileURLToPath(import.meta.url)}" "${outputDir}"`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outputDir = process.argv[2];
  if (!outputDir) {
    console.error("usage: node infra/bundling.ts OUTPUT_DIR");
    process.exit(2);
  }
  shipOpenpgpLazyModules(outputDir);
}
