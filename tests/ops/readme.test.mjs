// README.ko.md must keep up with README.md: the same sections (heading levels in the
// same order), and in each pair of sections the same tables (row and column counts),
// the same code blocks (```sh lines equal once `# comments` are stripped, any other
// fence exactly), every inline `code` span, every link target and image, the same
// `<!-- section: … -->` markers, and in-page links that point at the matching Korean
// heading (GitHub's slug of it). A self-test breaks the English text in memory and
// proves each check fails, so this cannot pass vacuously.
//
//   node --test tests/ops/readme.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const root = new URL("../../", import.meta.url);
const read = (name) => readFileSync(new URL(name, root), "utf8");

// Link targets that differ on purpose: the English README links to the Korean one
// and the Korean README links back.
const LINK_SWAPS = new Map([["README.ko.md", "README.md"]]);
const SHELL_FENCES = new Set(["sh", "bash", "shell", "console"]);

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
    for (const m of raw.matchAll(/<!--\s*section:\s*(.*?)\s*-->/g)) current.markers.push(m[1]);
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

/** Link and image targets, autolinks included; in-page anchors kept apart. */
function links(text) {
  const noCode = text.replace(/(`+)[^`][\s\S]*?(?<!`)\1(?!`)/g, "");
  const targets = new Set();
  const anchors = [];
  for (const m of noCode.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    if (m[1].startsWith("#")) anchors.push(decodeURIComponent(m[1].slice(1)));
    else targets.add(m[1]);
  }
  for (const m of noCode.matchAll(/<(https?:\/\/[^>\s]+)>/g)) targets.add(m[1]);
  return { targets, anchors };
}

/** The anchor of every heading, with GitHub's -1, -2 … for repeats. */
function anchorsOf(sections) {
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

/** Every way the Korean text falls short of the English one; [] when it keeps up. */
export function compare(enText, koText) {
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
  const koAnchorSet = new Set(koAnchors.filter(Boolean));

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
      problems.push(`${pair}: section markers [${e.markers}] in English, [${k.markers}] in Korean`);
    }

    const kSpans = codeSpans(k.text);
    for (const span of codeSpans(e.text)) {
      if (!kSpans.has(span)) problems.push(`${pair}: inline code \`${span}\` is missing in Korean`);
    }

    const el = links(e.text);
    const kl = links(k.text);
    for (const t of el.targets) {
      const want = LINK_SWAPS.get(t) ?? t;
      if (!kl.targets.has(want)) problems.push(`${pair}: link or image target ${want} is missing in Korean`);
    }
    for (const a of el.anchors) {
      const j = enAnchors.indexOf(a);
      if (j < 0) {
        problems.push(`${pair}: English link #${a} matches no English heading`);
      } else if (!kl.anchors.includes(koAnchors[j])) {
        problems.push(`${pair}: English link #${a} (to ${where(en[j])}) needs a Korean link #${koAnchors[j]} (to ${where(ko[j])})`);
      }
    }
    for (const a of kl.anchors) {
      if (!koAnchorSet.has(a)) problems.push(`Korean ${where(k)}: link #${a} matches no Korean heading`);
    }
  });
  return problems;
}

const english = read("README.md");
const korean = read("README.ko.md");

test("README.ko.md has every section, table, command and link of README.md", () => {
  const problems = compare(english, korean);
  assert.deepEqual(problems, [], `README.ko.md lags behind README.md:\n- ${problems.join("\n- ")}`);
});

test("the parser sees the English README's structure", () => {
  const sections = parse(english);
  const count = (key) => sections.reduce((n, s) => n + s[key].length, 0);
  assert.ok(sections.length > 10, `only ${sections.length} sections`);
  assert.ok(count("tables") > 5, `only ${count("tables")} tables`);
  assert.ok(count("fences") > 10, `only ${count("fences")} code blocks`);
  assert.ok(count("markers") > 0, "no section markers");
  assert.equal(slug("On two clusters: the walkthrough"), "on-two-clusters-the-walkthrough");
  assert.equal(slug("api-gateway (:8080) and the page"), "api-gateway-8080-and-the-page");
  assert.equal(slug("7. 관찰: Kiali, Jaeger, Prometheus"), "7-관찰-kiali-jaeger-prometheus");
  assert.equal(stripShellComment(`curl -s x -d '{"a":"#b"}'   # comment`), `curl -s x -d '{"a":"#b"}'`);
  assert.equal(stripShellComment("#   201 Created"), "");
});

// Each mutation breaks the English text in one place; the checker must notice.
const mutations = {
  "an extra ### section": (t) => `${t.trimEnd()}\n\n### New section\n\nSomething new.\n`,
  "an extra table row": (t) => {
    const lines = t.split("\n");
    const i = lines.findIndex((l, j) => l.startsWith("|") && !lines[j + 1]?.startsWith("|"));
    lines.splice(i + 1, 0, "| `new` | row | here |");
    return lines.join("\n");
  },
  "an extra command": (t) => t.replace("```sh\n", "```sh\nscripts/new-command.sh --flag\n"),
  "a changed command": (t) => t.replace("scripts/cleanup.sh --all", "scripts/cleanup.sh --every"),
  "a new flag in the prose": (t) => t.replace("## Metrics\n", "## Metrics\n\nSee `--new-flag`.\n"),
  "a new link": (t) => t.replace("## Metrics\n", "## Metrics\n\nSee [the docs](docs/new.md).\n"),
  "a new in-page link": (t) => t.replace("## Quick start\n", "## Quick start\n\nSee [Tests](#tests).\n"),
  "a moved section marker": (t) => t.replace("<!-- section: tests -->\n", "").replace("## Tests\n", "<!-- section: tests -->\n## Tests\n"),
  "a heading one level deeper": (t) => t.replace("\n## Metrics\n", "\n### Metrics\n"),
};

// The English text itself, with the one link that differs on purpose, is a Korean
// side that keeps up by construction: the self-tests do not depend on README.ko.md.
const mirror = english.replaceAll("](README.ko.md)", "](README.md)");

test("self-test: the English README keeps up with itself", () => {
  assert.deepEqual(compare(english, mirror), []);
});

for (const [name, mutate] of Object.entries(mutations)) {
  test(`self-test: the checker catches ${name}`, () => {
    const broken = mutate(english);
    assert.notEqual(broken, english, "the mutation did not change the text");
    assert.ok(compare(broken, mirror).length > 0, `the checker missed ${name} against the English text`);
    const before = new Set(compare(english, korean));
    const fresh = compare(broken, korean).filter((p) => !before.has(p));
    assert.ok(fresh.length > 0, `the checker missed ${name} against README.ko.md`);
  });
}

test("self-test: a missing heading is reported with both headings", () => {
  const [problem] = compare(mutations["an extra ### section"](english), mirror);
  assert.match(problem, /New section/);
  assert.match(problem, /no Korean heading/);
  const [moved] = compare(mutations["a heading one level deeper"](english), mirror);
  assert.match(moved, /English "### Metrics"/);
  assert.match(moved, /Korean "## Metrics"/);
});
