// Every English page has a Korean twin that keeps up with it: README.md and
// README.ko.md, and docs/X.md and docs/ko/X.md for every docs/*.md (a page without its
// twin fails, either way round). In each pair: the same sections (heading levels in
// the same order), and in each pair of sections the same tables (row and column
// counts), the same code blocks (```sh lines equal once `# comments` are stripped, any
// other fence exactly), every inline `code` span, every link target and image, the
// same `<!-- section: … -->` and `<!-- lab: … -->` markers, and links to a heading
// (in the page or another page) that point at the matching Korean heading (GitHub's
// slug of it). Link targets that differ on purpose are mapped, not skipped: a link to
// a page becomes a link to its twin, and every relative path is rewritten for the
// Korean page's folder (docs/page.png from README, ../page.png from docs/ko/).
// Every relative link must point at a file that exists, and README.md, the front
// door, stays under 250 lines. A self-test breaks the English pages in memory and
// proves each check fails, so this cannot pass vacuously.
//
//   node --test tests/ops/readme.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { posix } from "node:path";

const root = new URL("../../", import.meta.url);
const read = (name) => readFileSync(new URL(name, root), "utf8");
const exists = (name) => existsSync(new URL(name, root));

export const FRONT_DOOR_MAX_LINES = 250;
const SHELL_FENCES = new Set(["sh", "bash", "shell", "console"]);
const EXTERNAL = /^[a-z][a-z0-9+.-]*:/i;

// Pages another branch adds (the guide's files, folder by folder per context): linked
// from here before they land, paired and checked like every page once they do.
const LANDING_ELSEWHERE = new Set(["docs/guide-files.md", "docs/ko/guide-files.md"]);

/** GitHub's heading anchor: lower case, punctuation dropped, each space a hyphen. */
export function slug(text) {
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

/** A shell line without its trailing `# comment` (quote-aware) and trailing blanks. */
export function stripShellComment(line) {
  let quote = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === "\\") i++;
    else if (c === "'" || c === '"') quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i).trimEnd();
  }
  return line.trimEnd();
}

/** The twin of a page: README.md ↔ README.ko.md, docs/X.md ↔ docs/ko/X.md; null for any other file. */
export function twinOf(path) {
  if (path === "README.md") return "README.ko.md";
  if (path === "README.ko.md") return "README.md";
  const ko = path.match(/^docs\/ko\/([^/]+\.md)$/);
  if (ko) return `docs/${ko[1]}`;
  const en = path.match(/^docs\/([^/]+\.md)$/);
  return en ? `docs/ko/${en[1]}` : null;
}

const isKorean = (path) => path === "README.ko.md" || path.startsWith("docs/ko/");

/** English↔Korean pairs of a list of pages, and a problem for each page without its twin. */
export function pairPages(files) {
  const all = new Set(files);
  const pairs = [];
  const problems = [];
  for (const file of [...all].sort()) {
    const twin = twinOf(file);
    if (!twin) continue;
    if (!all.has(twin)) {
      problems.push(isKorean(file) ? `${file} has no English page ${twin}` : `${file} has no Korean twin ${twin}`);
    } else if (!isKorean(file)) {
      pairs.push([file, twin]);
    }
  }
  return { pairs, problems };
}

/** README.md, README.ko.md and every Markdown page of docs/ and docs/ko/. */
function pageFiles() {
  const list = (dir) =>
    exists(`${dir}/`)
      ? readdirSync(new URL(`${dir}/`, root))
          .filter((name) => name.endsWith(".md"))
          .map((name) => `${dir}/${name}`)
      : [];
  return ["README.md", "README.ko.md", ...list("docs"), ...list("docs/ko")].filter(exists);
}

/** The repository path a page's relative link points at ("" is the page itself). */
export function resolveLink(from, file) {
  if (file === "") return from;
  const resolved = posix.normalize(posix.join(posix.dirname(from), file));
  return file.endsWith("/") && !resolved.endsWith("/") ? `${resolved}/` : resolved;
}

/**
 * How a link of page `from` to `file` is written in page `to`: the same file seen from
 * to's folder, or, for a page, its twin (`twin` says which, the identity for a page
 * compared with itself). URLs stay as they are.
 */
export function mapFile(file, from, to, twin = twinOf) {
  if (EXTERNAL.test(file)) return file;
  const target = resolveLink(from, file);
  const mapped = twin(target) ?? target;
  const rel = posix.relative(posix.dirname(to), mapped) || posix.basename(mapped);
  return mapped.endsWith("/") && !rel.endsWith("/") ? `${rel}/` : rel;
}

/**
 * Splits a Markdown text into sections at `#`, `##` and `###` headings outside code
 * fences. Section 0 is whatever precedes the first heading.
 */
export function parse(text) {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const sections = [];
  let current = { level: 0, title: "(before the first heading)", line: 1, prose: [], fences: [], tables: [], markers: [] };
  sections.push(current);
  let fence = null; // { marker, indent, lang, lines, line }
  let table = null; // the rows of the table being read
  const endTable = () => {
    if (table) current.tables.push(table);
    table = null;
  };
  lines.forEach((raw, i) => {
    if (fence) {
      const close = raw.match(/^(\s*)(`{3,}|~{3,})\s*$/);
      if (close && close[2][0] === fence.marker[0] && close[2].length >= fence.marker.length) {
        current.fences.push(fence);
        fence = null;
      } else {
        fence.lines.push(raw.replace(new RegExp(`^ {0,${fence.indent}}`), ""));
      }
      return;
    }
    const open = raw.match(/^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/);
    if (open) {
      endTable();
      fence = { marker: open[2], indent: open[1].length, lang: open[3].toLowerCase(), lines: [], line: i + 1 };
      return;
    }
    const heading = raw.match(/^(#{1,3})\s+(.*?)\s*#*\s*$/);
    if (heading) {
      endTable();
      current = { level: heading[1].length, title: heading[2], line: i + 1, prose: [], fences: [], tables: [], markers: [] };
      sections.push(current);
      return;
    }
    if (/^\s*\|/.test(raw)) {
      (table ??= []).push(raw.trim());
    } else {
      endTable();
    }
    for (const m of raw.matchAll(/<!--\s*((?:section|lab):\s*.*?)\s*-->/g)) current.markers.push(m[1]);
    current.prose.push(raw);
  });
  endTable();
  if (fence) current.fences.push(fence); // an unclosed fence runs to the end, as on GitHub
  for (const s of sections) s.text = s.prose.join("\n");
  return sections;
}

/** Cells of a table row, split at unescaped `|`. */
function cells(row) {
  return row.replace(/^\|/, "").replace(/\|$/, "").split(/(?<!\\)\|/);
}

/** Inline code spans of a prose text (a span may run over a line break). */
function codeSpans(text) {
  const spans = new Set();
  for (const m of text.matchAll(/(`+)([^`][\s\S]*?)(?<!`)\1(?!`)/g)) {
    spans.add(m[2].replace(/\s+/g, " ").trim());
  }
  return spans;
}

/** Link and image targets, autolinks included, each as { file, anchor } (file "" for in-page). */
export function links(text) {
  const noCode = text.replace(/(`+)[^`][\s\S]*?(?<!`)\1(?!`)/g, "");
  const found = [];
  const add = (target) => {
    const hash = target.indexOf("#");
    if (hash < 0 || EXTERNAL.test(target)) found.push({ file: target, anchor: null });
    else found.push({ file: target.slice(0, hash), anchor: decodeURIComponent(target.slice(hash + 1)) });
  };
  for (const m of noCode.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) add(m[1]);
  for (const m of noCode.matchAll(/<(https?:\/\/[^>\s]+)>/g)) add(m[1]);
  return found;
}

const written = (l) => (l.anchor === null ? l.file : `${l.file}#${l.anchor}`);

/** The anchor of every heading, with GitHub's -1, -2 … for repeats. */
export function anchorsOf(sections) {
  const seen = new Map();
  return sections.map((s) => {
    if (s.level === 0) return null;
    const base = slug(s.title);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return n === 0 ? base : `${base}-${n}`;
  });
}

function normalizeFence(f) {
  const lines = SHELL_FENCES.has(f.lang) ? f.lines.map(stripShellComment) : f.lines.map((l) => l.trimEnd());
  while (lines.length && lines.at(-1) === "") lines.pop();
  return lines;
}

const where = (s) => `"${"#".repeat(s.level)} ${s.title}" (line ${s.line})`;

/**
 * Every way the Korean text falls short of the English one; [] when it keeps up.
 * `ctx` names the two pages (enPath, koPath), the twin of a page (twin) and the
 * headings' anchors of another page (pageAnchors(path): an array, or null for a file
 * that is not a page here).
 */
export function compare(enText, koText, ctx) {
  const { enPath, koPath, twin = twinOf, pageAnchors } = ctx;
  const en = parse(enText);
  const ko = parse(koText);
  const problems = [];

  const n = Math.max(en.length, ko.length);
  for (let i = 0; i < n; i++) {
    if (en[i]?.level !== ko[i]?.level) {
      const e = en[i] ? `English ${where(en[i])}` : "no English heading";
      const k = ko[i] ? `Korean ${where(ko[i])}` : "no Korean heading";
      problems.push(`heading ${i}: ${e} has no Korean counterpart of the same level at the same position; there is ${k}`);
      return problems; // later sections no longer pair up
    }
  }

  const enAnchors = anchorsOf(en);
  const koAnchors = anchorsOf(ko);
  // The anchors of the page a link points at, the page itself included.
  const anchorsIn = (path, own, anchors) => (path === own ? anchors : pageAnchors(path));

  en.forEach((e, i) => {
    const k = ko[i];
    const pair = `English ${where(e)} ↔ Korean ${where(k)}`;

    if (e.tables.length !== k.tables.length) {
      problems.push(`${pair}: ${e.tables.length} table(s) in English, ${k.tables.length} in Korean`);
    } else {
      e.tables.forEach((t, j) => {
        if (t.length !== k.tables[j].length) {
          problems.push(`${pair}: table ${j + 1} has ${t.length} rows in English, ${k.tables[j].length} in Korean (English first row: ${t[0]})`);
        }
        const ec = cells(t[0]).length;
        const kc = cells(k.tables[j][0]).length;
        if (ec !== kc) problems.push(`${pair}: table ${j + 1} has ${ec} columns in English, ${kc} in Korean`);
      });
    }

    if (e.fences.length !== k.fences.length) {
      problems.push(`${pair}: ${e.fences.length} code block(s) in English, ${k.fences.length} in Korean`);
    } else {
      e.fences.forEach((f, j) => {
        const g = k.fences[j];
        if (f.lang !== g.lang) {
          problems.push(`${pair}: code block ${j + 1} is \`\`\`${f.lang} in English (line ${f.line}), \`\`\`${g.lang} in Korean (line ${g.line})`);
          return;
        }
        const a = normalizeFence(f);
        const b = normalizeFence(g);
        const m = Math.max(a.length, b.length);
        for (let l = 0; l < m; l++) {
          if (a[l] !== b[l]) {
            problems.push(
              `${pair}: code block ${j + 1} (English line ${f.line}, Korean line ${g.line}) differs at its line ${l + 1}:\n` +
                `  English: ${a[l] ?? "(none)"}\n  Korean:  ${b[l] ?? "(none)"}`,
            );
            break;
          }
        }
      });
    }

    if (e.markers.join() !== k.markers.join()) {
      problems.push(`${pair}: markers [${e.markers}] in English, [${k.markers}] in Korean`);
    }

    const kSpans = codeSpans(k.text);
    for (const span of codeSpans(e.text)) {
      if (!kSpans.has(span)) problems.push(`${pair}: inline code \`${span}\` is missing in Korean`);
    }

    const kLinks = new Set(links(k.text).map(written));
    for (const l of links(e.text)) {
      const file = l.file === "" ? "" : mapFile(l.file, enPath, koPath, twin);
      if (l.anchor === null) {
        if (!kLinks.has(file)) problems.push(`${pair}: link or image target ${file} is missing in Korean (English: ${written(l)})`);
        continue;
      }
      const enTarget = resolveLink(enPath, l.file);
      const koTarget = l.file === "" ? koPath : (twin(enTarget) ?? enTarget);
      const from = anchorsIn(enTarget, enPath, enAnchors);
      if (!from) {
        // Not a page here (or one still to land): the anchor cannot be mapped, so it stays.
        if (!kLinks.has(`${file}#${l.anchor}`)) problems.push(`${pair}: link ${file}#${l.anchor} is missing in Korean`);
        continue;
      }
      const j = from.indexOf(l.anchor);
      const to = anchorsIn(koTarget, koPath, koAnchors);
      if (j < 0) {
        problems.push(`${pair}: English link ${written(l)} matches no heading of ${enTarget}`);
      } else if (!to?.[j]) {
        problems.push(`${pair}: English link ${written(l)} has no Korean heading to point at in ${koTarget}`);
      } else if (!kLinks.has(`${file}#${to[j]}`)) {
        problems.push(`${pair}: English link ${written(l)} needs a Korean link ${file}#${to[j]}`);
      }
    }
    for (const l of links(k.text)) {
      if (l.anchor === null) continue;
      const target = resolveLink(koPath, l.file);
      const anchors = anchorsIn(target, koPath, koAnchors);
      if (anchors && !anchors.includes(l.anchor)) {
        problems.push(`Korean ${where(k)}: link ${written(l)} matches no heading of ${target}`);
      }
    }
  });
  return problems;
}

/** Relative links of a page whose file does not exist (`exists` takes a repository path). */
export function brokenLinks(path, text, exists) {
  const broken = [];
  for (const l of links(text)) {
    if (l.file === "" || EXTERNAL.test(l.file)) continue;
    const target = resolveLink(path, l.file);
    if (!exists(target) && !LANDING_ELSEWHERE.has(target)) broken.push(`${path}: ${written(l)} → ${target} does not exist`);
  }
  return broken;
}

/** Why a front door is too long, or null. */
export function frontDoorProblem(path, text) {
  const lines = text.replace(/\n$/, "").split("\n").length;
  return lines < FRONT_DOOR_MAX_LINES ? null : `${path} has ${lines} lines; the front door stays under ${FRONT_DOOR_MAX_LINES}: move detail to a page of docs/`;
}

const files = pageFiles();
const texts = new Map(files.map((f) => [f, read(f)]));
const anchorCache = new Map();
/** The anchors of a page of this repository, or null when it is not one. */
function pageAnchors(path) {
  if (!texts.has(path)) return null;
  if (!anchorCache.has(path)) anchorCache.set(path, anchorsOf(parse(texts.get(path))));
  return anchorCache.get(path);
}
const ctxOf = (enPath, koPath) => ({ enPath, koPath, pageAnchors });
const { pairs, problems: unpaired } = pairPages(files);

test("every page has its twin: README.md ↔ README.ko.md, docs/X.md ↔ docs/ko/X.md", () => {
  assert.deepEqual(unpaired, [], `pages without a twin:\n- ${unpaired.join("\n- ")}`);
  assert.ok(pairs.length >= 8, `only ${pairs.length} pairs: ${pairs.map((p) => p[0])}`);
});

for (const [en, ko] of pairs) {
  test(`${ko} has every section, table, command and link of ${en}`, () => {
    const problems = compare(texts.get(en), texts.get(ko), ctxOf(en, ko));
    assert.deepEqual(problems, [], `${ko} lags behind ${en}:\n- ${problems.join("\n- ")}`);
  });
}

test("every relative link and image of every page points at a file that exists", () => {
  const broken = files.flatMap((f) => brokenLinks(f, texts.get(f), exists));
  assert.deepEqual(broken, [], `broken links:\n- ${broken.join("\n- ")}`);
});

test(`README.md and README.ko.md, the front door, stay under ${FRONT_DOOR_MAX_LINES} lines`, () => {
  for (const f of ["README.md", "README.ko.md"]) assert.equal(frontDoorProblem(f, texts.get(f)), null);
});

test("docs/lab.md holds the guide's commands block that tests/lab/mesh.test.sh runs", () => {
  const lines = texts.get("docs/lab.md").split("\n");
  const at = lines.indexOf("<!-- lab: guide commands -->");
  assert.ok(at >= 0, "no <!-- lab: guide commands --> marker in docs/lab.md");
  assert.equal(lines[at + 1], "```sh", "the marker must stand right before a ```sh block");
  const end = lines.indexOf("```", at + 2);
  assert.ok(end - at - 2 >= 10, `only ${end - at - 2} commands after the marker`);
  assert.match(read("tests/lab/mesh.test.sh"), /guide commands -->.*\n.*' docs\/lab\.md\)/, "mesh.test.sh reads another file");
});

test("the parser sees the pages' structure", () => {
  const english = files.filter((f) => !isKorean(f)).map((f) => parse(texts.get(f)));
  const count = (key) => english.flat().reduce((n, s) => n + s[key].length, 0);
  assert.ok(english.flat().length > 30, `only ${english.flat().length} sections`);
  assert.ok(count("tables") > 15, `only ${count("tables")} tables`);
  assert.ok(count("fences") > 30, `only ${count("fences")} code blocks`);
  const markers = english.flat().flatMap((s) => s.markers);
  for (const m of ["section: running", "section: api", "section: gateway", "section: cluster", "section: tests", "lab: guide commands"]) {
    assert.ok(markers.includes(m), `no <!-- ${m} --> marker`);
  }
  assert.equal(slug("On two clusters: the walkthrough"), "on-two-clusters-the-walkthrough");
  assert.equal(slug("api-gateway (:8080) and the page"), "api-gateway-8080-and-the-page");
  assert.equal(slug("7. 관찰: Kiali, Jaeger, Prometheus"), "7-관찰-kiali-jaeger-prometheus");
  assert.equal(stripShellComment(`curl -s x -d '{"a":"#b"}'   # comment`), `curl -s x -d '{"a":"#b"}'`);
  assert.equal(stripShellComment("#   201 Created"), "");
});

test("link targets map to the Korean page's folder and to each page's twin", () => {
  assert.equal(mapFile("README.ko.md", "README.md", "README.ko.md"), "README.md");
  assert.equal(mapFile("docs/running.md", "README.md", "README.ko.md"), "docs/ko/running.md");
  assert.equal(mapFile("docs/page.png", "README.md", "README.ko.md"), "docs/page.png");
  assert.equal(mapFile("page.png", "docs/api.md", "docs/ko/api.md"), "../page.png");
  assert.equal(mapFile("../scripts/test.sh", "docs/testing.md", "docs/ko/testing.md"), "../../scripts/test.sh");
  assert.equal(mapFile("../manifests/", "docs/cluster.md", "docs/ko/cluster.md"), "../../manifests/");
  assert.equal(mapFile("../README.md", "docs/api.md", "docs/ko/api.md"), "../../README.ko.md");
  assert.equal(mapFile("ko/api.md", "docs/api.md", "docs/ko/api.md"), "../api.md");
  assert.equal(mapFile("lab.md", "docs/testing.md", "docs/ko/testing.md"), "lab.md");
  assert.equal(mapFile("https://example.com/a#b", "docs/api.md", "docs/ko/api.md"), "https://example.com/a#b");
  assert.deepEqual(links("[a](api.md#x) [b](#y) <https://e.com/z#w> `[c](d.md)`"), [
    { file: "api.md", anchor: "x" },
    { file: "", anchor: "y" },
    { file: "https://e.com/z#w", anchor: null },
  ]);
});

test("self-test: a page without its twin, either way round, is reported", () => {
  const { pairs: p, problems } = pairPages(["README.md", "README.ko.md", "docs/a.md", "docs/ko/a.md", "docs/b.md", "docs/ko/c.md", "docs/x.png"]);
  assert.deepEqual(p, [["README.md", "README.ko.md"], ["docs/a.md", "docs/ko/a.md"]]);
  assert.deepEqual(problems, ["docs/b.md has no Korean twin docs/ko/b.md", "docs/ko/c.md has no English page docs/c.md"]);
  assert.deepEqual(pairPages(["README.md"]).problems, ["README.md has no Korean twin README.ko.md"]);
});

test("self-test: a broken relative link and a long front door are reported", () => {
  const has = (p) => p === "docs/api.md";
  assert.deepEqual(brokenLinks("docs/lab.md", "[a](api.md) [b](nope.md#x) [c](https://e.com) [d](#y) [e](guide-files.md)", has), [
    "docs/lab.md: nope.md#x → docs/nope.md does not exist",
  ]);
  assert.equal(frontDoorProblem("README.md", "line\n".repeat(FRONT_DOOR_MAX_LINES - 1)), null);
  assert.match(frontDoorProblem("README.md", "line\n".repeat(FRONT_DOOR_MAX_LINES)) ?? "", /250 lines/);
  assert.match(frontDoorProblem("README.md", `${texts.get("README.md")}${"more\n".repeat(FRONT_DOOR_MAX_LINES)}`) ?? "", /front door/);
});

// Each mutation breaks one English page in one place; the checker must notice.
const mutations = {
  "an extra ### section": ["docs/api.md", (t) => `${t.trimEnd()}\n\n### New section\n\nSomething new.\n`],
  "an extra table row": [
    "docs/api.md",
    (t) => {
      const lines = t.split("\n");
      const i = lines.findIndex((l, j) => l.startsWith("|") && !lines[j + 1]?.startsWith("|"));
      lines.splice(i + 1, 0, "| `new` | row | here |");
      return lines.join("\n");
    },
  ],
  "an extra command": ["docs/cluster.md", (t) => t.replace("```sh\n", "```sh\nscripts/new-command.sh --flag\n")],
  "a changed command": ["docs/cluster.md", (t) => t.replace("scripts/cleanup.sh --all", "scripts/cleanup.sh --every")],
  "a new flag in the prose": ["docs/api.md", (t) => t.replace("## Metrics\n", "## Metrics\n\nSee `--new-flag`.\n")],
  "a new link": ["docs/api.md", (t) => t.replace("## Metrics\n", "## Metrics\n\nSee [the docs](new.md).\n")],
  "a changed image": ["docs/api.md", (t) => t.replace("](page.png)", "](docs/page.png)")],
  "a new in-page link": ["README.md", (t) => t.replace("## Quick start\n", "## Quick start\n\nSee [the picture](#how-it-fits-together).\n")],
  "a link to another page's other heading": ["docs/lessons.md", (t) => t.replace("](api.md#failure-and-chaos)", "](api.md#metrics)")],
  "a link to a heading another page lacks": ["docs/lessons.md", (t) => t.replace("](api.md#chaos-knobs)", "](api.md#chaos-knob)")],
  "a link to the twin instead of the page": ["docs/lab.md", (t) => t.replace("](cluster.md#5-verify)", "](ko/cluster.md#5-verify)")],
  "a moved section marker": [
    "docs/testing.md",
    (t) => t.replace("<!-- section: tests -->\n", "").replace("## Benchmarks\n", "<!-- section: tests -->\n## Benchmarks\n"),
  ],
  "a moved lab marker": [
    "docs/lab.md",
    (t) => t.replace("<!-- lab: guide commands -->\n", "").replace(/\n## Observing the lab.*\n/, (h) => `${h}\n<!-- lab: guide commands -->\n`),
  ],
  "a heading one level deeper": ["docs/api.md", (t) => t.replace("\n## Metrics\n", "\n### Metrics\n")],
};

// An English page compared with itself, every page its own twin, keeps up by
// construction: the self-tests do not depend on the Korean pages' being right.
const itself = (path) => ({ enPath: path, koPath: path, twin: (p) => p, pageAnchors });

test("self-test: every English page keeps up with itself", () => {
  for (const [en] of pairs) assert.deepEqual(compare(texts.get(en), texts.get(en), itself(en)), [], en);
});

for (const [name, [page, mutate]] of Object.entries(mutations)) {
  test(`self-test: the checker catches ${name} (${page})`, () => {
    const english = texts.get(page);
    const korean = texts.get(twinOf(page));
    const broken = mutate(english);
    assert.notEqual(broken, english, "the mutation did not change the text");
    assert.ok(compare(broken, english, itself(page)).length > 0, `the checker missed ${name} against the English text`);
    const before = new Set(compare(english, korean, ctxOf(page, twinOf(page))));
    const fresh = compare(broken, korean, ctxOf(page, twinOf(page))).filter((p) => !before.has(p));
    assert.ok(fresh.length > 0, `the checker missed ${name} against ${twinOf(page)}`);
  });
}

test("self-test: a missing heading is reported with both headings", () => {
  const [page, extra] = mutations["an extra ### section"];
  const [problem] = compare(extra(texts.get(page)), texts.get(page), itself(page));
  assert.match(problem, /New section/);
  assert.match(problem, /no Korean heading/);
  const [, deeper] = mutations["a heading one level deeper"];
  const [moved] = compare(deeper(texts.get(page)), texts.get(page), itself(page));
  assert.match(moved, /English "### Metrics"/);
  assert.match(moved, /Korean "## Metrics"/);
});
