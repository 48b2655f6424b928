package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"starlab/builtins/sweep"
)

// sweepWorkerCmd is `starlab sweep-worker`, hidden from the usage: one of the load-generator
// processes of sweep(..., clients=N), which its coordinator starts and feeds its job on stdin
// (sweep.WorkerMain describes the protocol). It is not for people, so it is not in commands().
func sweepWorkerCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprintf(stderr, "starlab %s: takes no arguments; sweep(..., clients=N) starts it with its job on stdin\n", sweep.WorkerCommandName)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := sweep.WorkerMain(ctx, os.Stdin, stdout); err != nil {
		fmt.Fprintf(stderr, "starlab %s: %v\n", sweep.WorkerCommandName, err)
		return 1
	}
	return 0
}
