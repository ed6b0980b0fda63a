// Unknown fields in Istio objects: Istio's JSON schemas allow them, so a misspelt
// `wieght` would pass. TypeScript's excess-property check against the same package's
// interfaces catches it: every rendered Istio object becomes a typed object literal
// and `tsc --noEmit` must accept the file. Run with a path to also prove a misspelling
// is rejected (the self-test).
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { render } from "./check.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const TYPES = {
  "networking.istio.io/v1/VirtualService": ["IVirtualService", "networking.istio.io/v1/VirtualService"],
  "networking.istio.io/v1/DestinationRule": ["IDestinationRule", "networking.istio.io/v1/DestinationRule"],
  "security.istio.io/v1/AuthorizationPolicy": ["IAuthorizationPolicy", "security.istio.io/v1/AuthorizationPolicy"],
  "security.istio.io/v1/PeerAuthentication": ["IPeerAuthentication", "security.istio.io/v1/PeerAuthentication"],
};

/** Type-checks the Istio objects; returns tsc's complaints ("" when none). */
export function typecheck(objects) {
  const dir = join(HERE, ".typecheck");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  const imports = Object.values(TYPES).map(([type, path]) => `import type { ${type} } from "@kubernetes-models/istio/${path}";`);
  const lines = objects
    .filter((o) => TYPES[`${o.apiVersion}/${o.kind}`])
    .map((o, i) => `export const o${i}: ${TYPES[`${o.apiVersion}/${o.kind}`][0]} = ${JSON.stringify(o)};`);
  writeFileSync(join(dir, "objects.ts"), [...imports, ...lines].join("\n") + "\n");
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", skipLibCheck: true },
    files: ["objects.ts"],
  }));
  try {
    execFileSync(join(HERE, "node_modules/.bin/tsc"), ["-p", dir], { encoding: "utf8" });
    return "";
  } catch (e) {
    return String(e.stdout || e.message);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const scenarios = readdirSync(join(HERE, "../../manifests/scenarios")).map((n) => `scenarios/${n}`);
const objects = ["clusters/ctx1", "clusters/ctx2", ...scenarios].flatMap((dir) => render(dir));
const complaints = typecheck(objects);
if (complaints) {
  console.error(complaints);
  process.exit(1);
}
// Self-test: one misspelt field must be reported, or the pass above proves nothing.
const broken = structuredClone(objects.filter((o) => o.kind === "VirtualService"));
broken[1].spec.http[0].route[0].wieght = 100;
if (!typecheck(broken).includes("wieght")) {
  console.error("a misspelt field in a VirtualService was not reported");
  process.exit(1);
}
console.log(`istio types: ${objects.length} objects, no unknown fields; a misspelling is caught`);
