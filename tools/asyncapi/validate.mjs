// Validates docs/asyncapi.yaml (or the file given as the first argument) and
// exits 1 on any error, printing every diagnostic. Two passes:
//
//  1. The AsyncAPI parser: the document against the AsyncAPI 3 specification
//     and its rules, every $ref resolved (the payloads are files under
//     pkg/events/schemas/, referenced relative to the document).
//  2. The payload schemas. Parser 3.6.3 only knows JSON Schema as draft-07,
//     and for AsyncAPI 3 it does not validate payload schemas at all: an
//     unknown schemaFormat, or a schema that is not valid, passes silently. So
//     every Multi Format Schema Object must use a format registered below, and
//     each JSON Schema 2020-12 file it references is compiled here with Ajv's
//     2020-12 dialect, the other schema files of its directory loaded by $id
//     so that relative $refs resolve without network.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import yaml from 'js-yaml';

const here = path.dirname(fileURLToPath(import.meta.url));
const file = path.resolve(process.argv[2] ?? path.join(here, '../../docs/asyncapi.yaml'));
const shown = path.relative(process.cwd(), file);

const jsonSchema2020 = 'application/schema+json;version=2020-12';

// Makes the 2020-12 format known to the parser. Pass 2 does the checking:
// the schema the parser hands over is already dereferenced (see siblingRefs).
const jsonSchema2020Parser = {
  getMimeTypes: () => [jsonSchema2020],
  validate: async () => [],
  parse: async ({ data }) => data,
};

const errors = [];
const warnings = [];
const collapsed = []; // schema locations whose $ref siblings AsyncAPI tools drop
const loaded = new Map(); // schema directory -> { ajv, byFile }

// Pass 1.
const parser = new Parser({ schemaParsers: [jsonSchema2020Parser] });
const source = await readFile(file, 'utf8');
const { document, diagnostics } = await parser.parse(source, { source: file });
const severity = ['error', 'warning', 'info', 'hint'];
for (const d of diagnostics) {
  const line = d.range ? `:${d.range.start.line + 1}` : '';
  const msg = `${shown}${line} ${d.path?.join('.') || '(document)'}: ${d.message} [${d.code}]`;
  if (d.severity === DiagnosticSeverity.Error) errors.push(msg);
  else if (d.severity === DiagnosticSeverity.Warning) warnings.push(msg);
  else console.log(`${severity[d.severity]}: ${msg}`);
}
if (!document && errors.length === 0) errors.push(`${shown}: the parser returned no document`);

// Pass 2, on a document the parser could read.
for (const { at, format, schema } of document ? multiFormatSchemas(yaml.load(source)) : []) {
  if (!parser.parserRegistry.has(format)) {
    errors.push(`${shown} ${at}: schemaFormat "${format}" has no parser, so nothing would check this schema`);
  } else if (format === jsonSchema2020) {
    await checkSchema2020(at, schema);
  }
}

if (collapsed.length > 0) {
  errors.push(`"$ref" next to other keywords in ${collapsed.join(', ')}: AsyncAPI tools (this parser ` +
    `too) replace such an object by the $ref target, so they show these payloads without those keywords; ` +
    `"allOf": [{"$ref": ...}] means the same in JSON Schema 2020-12 and survives.`);
}
for (const w of warnings) console.log(`warning: ${w}`);
for (const e of errors) console.log(`error: ${e}`);
if (errors.length > 0) {
  console.error(`${shown}: ${errors.length} error(s)`);
  process.exit(1);
}
console.log(`${shown}: valid AsyncAPI ${document.version()}, ${document.channels().length} channels, ` +
  `${document.operations().length} operations, ${document.components().messages().length} messages`);

// multiFormatSchemas yields every {schemaFormat, schema} object of the raw
// (unresolved) document with its path.
function* multiFormatSchemas(node, at = []) {
  if (node === null || typeof node !== 'object') return;
  if (typeof node.schemaFormat === 'string' && 'schema' in node) {
    yield { at: at.join('.'), format: node.schemaFormat, schema: node.schema };
  }
  for (const [k, v] of Object.entries(node)) yield* multiFormatSchemas(v, [...at, k]);
}

async function checkSchema2020(at, schema) {
  const ref = schema?.$ref;
  if (typeof ref !== 'string' || ref.includes('#') || /^[a-z]+:/i.test(ref)) {
    errors.push(`${shown} ${at}: expected a $ref to a local JSON Schema file, got ${JSON.stringify(schema)}`);
    return;
  }
  const target = path.resolve(path.dirname(file), ref);
  const { ajv, byFile } = await schemasIn(path.dirname(target));
  const root = byFile.get(target);
  if (!root) return; // missing (pass 1 reported the $ref) or reported by schemasIn
  try {
    ajv.getSchema(root.$id); // compiles it and everything it references
  } catch (err) {
    errors.push(`${shown} ${at}: ${ref} does not compile: ${err.message}`);
    return;
  }
  for (const p of siblingRefs(root)) collapsed.push(`${path.basename(ref)}${p}`);
}

// schemasIn loads every JSON Schema file of dir once, each checked against the
// 2020-12 meta-schema and registered by $id (or file URL), so that a schema's
// relative $refs resolve to its neighbours.
async function schemasIn(dir) {
  if (!loaded.has(dir)) {
    const ajv = new Ajv2020({ allErrors: true, strict: false, validateSchema: false });
    addFormats(ajv);
    const byFile = new Map();
    for (const name of (await readdir(dir)).filter((n) => n.endsWith('.json')).sort()) {
      const f = path.join(dir, name);
      try {
        const s = JSON.parse(await readFile(f, 'utf8'));
        s.$id ??= pathToFileURL(f).href;
        if (!ajv.validateSchema(s)) throw new Error(ajv.errorsText(ajv.errors, { dataVar: 'schema' }));
        ajv.addSchema(s);
        byFile.set(f, s);
      } catch (err) {
        errors.push(`${path.relative(process.cwd(), f)} is not a valid JSON Schema 2020-12: ${err.message}`);
      }
    }
    loaded.set(dir, { ajv, byFile });
  }
  return loaded.get(dir);
}

// siblingRefs lists the JSON pointers of objects holding $ref and other
// keywords. JSON Schema 2020-12 applies both, but JSON Reference resolvers,
// as used by AsyncAPI tools, replace the whole object with the target.
function* siblingRefs(node, at = '#') {
  if (node === null || typeof node !== 'object') return;
  if (typeof node.$ref === 'string' && Object.keys(node).some((k) => !['$ref', '$comment', 'description', 'title'].includes(k))) {
    yield at === '#' ? '' : at;
  }
  for (const [k, v] of Object.entries(node)) yield* siblingRefs(v, `${at}/${k}`);
}
