// Command starlab runs experiment plans for LLM inference servers. It only parses flags and calls
// the runtime; everything else lives in runtime/ and builtins/. `starlab help` lists the
// subcommands (the commands table in main.go drives both the dispatch and that list).
package main
