package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/migrate-tool/migrate/internal/testenv"
)

// serve starts both servers, prints shell exports for them and runs until
// ctx ends (SIGINT/SIGTERM).
func serve(ctx context.Context, tools string, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	data := fs.String("data", "", "data directory (default: a new temporary directory, removed on exit)")
	threshold := fs.Int64("copy-threshold", 0, "versitygw --copy-object-threshold in bytes (0: S3's 5 GiB)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := testenv.ToolsInstalled(tools); err != nil {
		return err
	}
	var s3dir, azdir string
	if *data != "" {
		s3dir, azdir = *data+"/s3", *data+"/azure"
	}
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	s3srv, err := testenv.StartS3(startCtx, testenv.S3Options{ToolsDir: tools, DataDir: s3dir, CopyObjectThreshold: *threshold, Log: os.Stderr})
	if err != nil {
		return err
	}
	defer stop("S3", s3srv.Stop)
	az, err := testenv.StartAzure(startCtx, testenv.AzureOptions{ToolsDir: tools, DataDir: azdir, Log: os.Stderr})
	if err != nil {
		return err
	}
	defer stop("Azure", az.Stop)

	fmt.Printf("export MIGRATE_RIG_S3_ENDPOINT=%s\n", s3srv.Endpoint)
	fmt.Printf("export AWS_ENDPOINT_URL_S3=%s\n", s3srv.Endpoint)
	fmt.Printf("export AWS_REGION=%s\n", s3srv.Region)
	fmt.Printf("export AWS_ACCESS_KEY_ID=%s\n", s3srv.AccessKey)
	fmt.Printf("export AWS_SECRET_ACCESS_KEY=%s\n", s3srv.SecretKey)
	fmt.Printf("export MIGRATE_RIG_AZURE_ENDPOINT=%s\n", az.Endpoint)
	fmt.Printf("export MIGRATE_RIG_AZURITE_ENDPOINT=%s\n", az.AzuriteEndpoint)
	fmt.Printf("export AZURE_STORAGE_ACCOUNT=%s\n", az.Account)
	fmt.Printf("export AZURE_STORAGE_KEY=%s\n", az.Key)
	fmt.Printf("export AZURE_STORAGE_CONNECTION_STRING='%s'\n", az.ConnectionString())
	fmt.Fprintln(os.Stderr, "rig: serving; press Ctrl-C to stop")

	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "rig: stopping")
	st := az.Front.Stats()
	fmt.Fprintf(os.Stderr, "rig: front fetched %d sources (%d bytes), %d failures, %d replays\n", st.SourceFetches, st.SourceBytes, st.SourceFailures, st.Replays)
	return nil
}

func stop(what string, f func() error) {
	if err := f(); err != nil {
		fmt.Fprintf(os.Stderr, "rig: stop %s: %v\n", what, err)
	}
}
