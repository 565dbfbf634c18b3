// A node:test reporter that prints one final line, `N passed, N failed`, after the run (next
// to the TAP reporter). Counts tests; a file that fails outside its tests (load error,
// time-out) counts as one failure. Plain JavaScript: node loads reporters before tsx.
export default async function* summary(source) {
  let passed = 0;
  let failed = 0;
  let nestedFailures = 0;
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    // The per-file wrapper is named after the file (its own test events come separately).
    if (event.data.nesting === 0 && event.data.file && event.data.name === event.data.file) {
      // The file itself: only a failure none of its tests explains counts.
      if (event.type === 'test:fail' && nestedFailures === 0) failed++;
      nestedFailures = 0;
      continue;
    }
    if (event.data.details?.type === 'suite') continue;
    if (event.type === 'test:pass') passed++;
    else {
      failed++;
      nestedFailures++;
    }
  }
  yield `${passed} passed, ${failed} failed\n`;
}
