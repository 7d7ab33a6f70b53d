// Validates AsyncAPI documents (JSON or YAML) with the official parser, @asyncapi/parser.
//
//   node tests/browser/validate_asyncapi.mjs FILE...
//
// Prints every diagnostic of every file (severity, path, message) and exits non-zero if
// any file has a diagnostic of severity error, cannot be read, or yields no document.
// Warnings, information and hints are printed but allowed. Needs no network: the
// documents of chanx have no external $refs.

import { readFileSync } from 'node:fs';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';

const SEVERITY = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'information',
  [DiagnosticSeverity.Hint]: 'hint',
};

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node validate_asyncapi.mjs FILE...');
  process.exit(2);
}

const parser = new Parser();
let failed = 0;
for (const file of files) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    console.log(`FAIL ${file}: cannot read it: ${error.message}`);
    failed += 1;
    continue;
  }
  let document;
  let diagnostics;
  try {
    ({ document, diagnostics } = await parser.parse(text, { source: file }));
  } catch (error) {
    console.log(`FAIL ${file}: the parser threw: ${error.stack || error}`);
    failed += 1;
    continue;
  }
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  const ok = errors.length === 0 && document !== undefined;
  const counts = Object.entries(SEVERITY)
    .map(([severity, name]) => [name, diagnostics.filter((d) => d.severity === Number(severity)).length])
    .filter(([, count]) => count > 0)
    .map(([name, count]) => `${count} ${name}${count === 1 ? '' : 's'}`);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${file}: ${counts.length ? counts.join(', ') : 'no diagnostics'}`);
  for (const d of diagnostics) {
    const where = d.path && d.path.length ? `#/${d.path.join('/')}` : '#';
    const line = d.range ? ` (line ${d.range.start.line + 1})` : '';
    console.log(`  ${SEVERITY[d.severity] ?? `severity ${d.severity}`} [${d.code}] ${where}${line}: ${d.message}`);
  }
  if (ok) {
    const api = document;
    console.log(
      `  parsed: AsyncAPI ${api.version()}, "${api.info().title()}" ${api.info().version()}, ` +
        `${api.channels().length} channels, ${api.operations().length} operations, ` +
        `${api.components().messages().length} component messages`,
    );
  } else {
    if (document === undefined && errors.length === 0) console.log('  the parser gave no document');
    failed += 1;
  }
}
if (failed) {
  console.log(`${failed} of ${files.length} document(s) failed validation`);
  process.exit(1);
}
console.log(`all ${files.length} document(s) are valid AsyncAPI`);
