package main

import (
	"strings"
	"testing"
)

// TestUsageListsEveryCommand checks the usage text against the table cli dispatches from: every
// subcommand there has a line "starlab NAME ..." with what it does, and every name in the table
// reaches its command rather than "unknown command".
func TestUsageListsEveryCommand(t *testing.T) {
	text := usage()
	lines := strings.Split(text, "\n")
	hasLine := func(prefix, what string) bool {
		for _, l := range lines {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, prefix) && strings.HasSuffix(l, what) {
				return true
			}
		}
		return false
	}
	seen := map[string]bool{}
	for _, c := range commands() {
		if seen[c.name] {
			t.Errorf("command %q is in the table twice", c.name)
		}
		seen[c.name] = true
		if len(c.usage) == 0 {
			t.Errorf("command %q has no usage line", c.name)
		}
		for _, u := range c.usage {
			call := strings.TrimSpace("starlab " + c.name + " " + u.args)
			if u.what == "" || !hasLine(call, u.what) {
				t.Errorf("usage lacks the line %q ... %q:\n%s", call, u.what, text)
			}
		}
		code, stdout, stderr := runCLI(c.name, "-h")
		if strings.Contains(stdout+stderr, "unknown command") {
			t.Errorf("starlab %s -h: exit %d, not dispatched:\n%s%s", c.name, code, stdout, stderr)
		}
	}
	// The subcommands the usage once left out.
	for _, want := range []string{"starlab report RUNDIR", "starlab sim serve MODEL"} {
		if !strings.Contains(text, want) {
			t.Errorf("usage lacks %q:\n%s", want, text)
		}
	}
}

// TestUsageShown: help and its flags print the usage on stdout; no command, or an unknown one, is
// a usage error that prints it on stderr.
func TestUsageShown(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		if code, stdout, _ := runCLI(args...); code != 0 || stdout != usage() {
			t.Errorf("starlab %s: exit %d, want 0 and the usage on stdout, got:\n%s", args[0], code, stdout)
		}
	}
	for _, args := range [][]string{{}, {"frobnicate"}} {
		code, stdout, stderr := runCLI(args...)
		if code != 2 || stdout != "" || !strings.HasSuffix(stderr, usage()) {
			t.Errorf("starlab %v: exit %d, want 2 and the usage on stderr, got:\n%s%s", args, code, stdout, stderr)
		}
	}
}
