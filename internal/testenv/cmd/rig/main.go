// Command rig installs and runs the local servers of the test rig:
//
//	rig install   install versitygw and Azurite into the rig's tools dir
//	rig serve     start both servers, print their endpoints and credentials
//	              as `export VAR=...` lines, run until SIGINT or SIGTERM
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/migrate-tool/migrate/internal/testenv"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "rig:", err)
		os.Exit(1)
	}
}

func usage() error {
	return fmt.Errorf("usage: rig install | rig serve [-data DIR] [-copy-threshold BYTES]")
}

func run(args []string) error {
	if len(args) == 0 {
		return usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := testenv.ToolsDir()
	if err != nil {
		return err
	}
	switch args[0] {
	case "install":
		return testenv.InstallTools(ctx, dir, os.Stderr)
	case "serve":
		return serve(ctx, dir, args[1:])
	default:
		return usage()
	}
}
