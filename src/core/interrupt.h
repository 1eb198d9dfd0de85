#pragma once
// Cooperative interruption of long writes (convert, init, import): a SIGINT or SIGTERM handler
// only sets a flag; the writer checks it between chunks and throws, so the stack unwinds and
// every temporary output is removed as on any other error. A second SIGINT ends the process at
// once (the default action), for a user who will not wait.
namespace gqa {

// Installs the SIGINT and SIGTERM handlers. Idempotent.
void interrupt_on_signals();

// True after a SIGINT or SIGTERM arrived (with the handlers installed).
bool interrupted();

// Throws Error (kInterrupted) naming the signal when one arrived.
void throw_if_interrupted();

}  // namespace gqa
