// Validate an AsyncAPI document with the official parser (npm @asyncapi/parser) and print its
// diagnostics as JSON on stdout: {"valid": bool, "errors": [...], "warnings": [...], "channels": [...],
// "messages": [...]} — the channels' addresses and the messages' names as the parser read them.
//
// usage: node tests/asyncapi/validate.mjs <node_modules dir> <document.json>
// (the node_modules directory is what infra/asyncapi/install.sh prints). Exit status 0 when the
// parser reports no error, 1 when it does, 2 when it cannot run.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";

const [modules, file] = process.argv.slice(2);
if (!modules || !file) {
  console.error("usage: node validate.mjs <node_modules dir> <document.json>");
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(modules), "..", "package.json"));
const { Parser, DiagnosticSeverity } = require("@asyncapi/parser");

const parser = new Parser();
const { document, diagnostics } = await parser.parse(await readFile(file, "utf8"), { source: path.resolve(file) });
const describe = (d) => ({ code: d.code, message: d.message, path: d.path.join("/") });
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error).map(describe);
const warnings = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Warning).map(describe);
const report = { valid: document !== undefined && errors.length === 0, errors, warnings, channels: [], messages: [] };
if (document !== undefined) {
  report.channels = document.channels().all().map((c) => c.address());
  report.messages = document.allMessages().all().map((m) => m.name());
}
process.stdout.write(JSON.stringify(report) + "\n");
process.exit(report.valid ? 0 : 1);
