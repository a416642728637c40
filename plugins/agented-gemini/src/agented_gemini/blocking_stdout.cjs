// Loaded into the Gemini CLI with NODE_OPTIONS=--require by agented-gemini.
//
// Node writes to a pipe asynchronously, and the CLI ends with process.exit(), which drops
// whatever is still queued: with a large output (its stream-json echoes the whole prompt)
// a reader that is a moment behind loses the rest of the run, its result line included.
// Blocking writes make every line reach the pipe before the process exits.
for (const stream of [process.stdout, process.stderr]) {
  if (stream && stream._handle && typeof stream._handle.setBlocking === "function") {
    stream._handle.setBlocking(true);
  }
}
