package testenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// The emulator's well-known account (documented with Azurite; it protects
// nothing).
const (
	AzureAccount = "devstoreaccount1"
	AzureKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// AzureServer is a running Azurite blob service with a CopySourceFront
// before it.
type AzureServer struct {
	Endpoint        string // the front: http://127.0.0.1:PORT/devstoreaccount1 (what the tool and tests use)
	AzuriteEndpoint string // Azurite itself: http://127.0.0.1:PORT/devstoreaccount1
	Account         string // devstoreaccount1
	Key             string // Azurite's well-known key
	Front           *CopySourceFront
	DataDir         string // working directory and azurite.log

	proc     *process
	ownsData bool
}

// AzureOptions configure StartAzure.
type AzureOptions struct {
	ToolsDir string    // where InstallTools put Azurite; "" means ToolsDir()
	DataDir  string    // "" means a new temporary directory, removed by Stop
	Log      io.Writer // progress lines; nil discards
}

// StartAzure starts azurite-blob (in-memory, loose, API version check off)
// on a free 127.0.0.1 port, waits until it answers, then starts the
// copy-source front before it.
func StartAzure(ctx context.Context, opts AzureOptions) (*AzureServer, error) {
	log, bin, dir, owns, err := prepare(opts.Log, opts.ToolsDir, opts.DataDir, "Azurite", AzuritePath, "migrate-azure-*")
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "azurite.log")
	launch := func(port int) (*process, error) {
		// --location cannot be combined with --inMemoryPersistence; the
		// working directory is DataDir so nothing lands elsewhere.
		return startProcess("azurite", dir, logPath, nil, bin,
			"--blobHost", "127.0.0.1", "--blobPort", itoa(port),
			"--skipApiVersionCheck", "--inMemoryPersistence", "--loose",
			"--silent", "--disableTelemetry")
	}
	probe := func(port int) string { return "http://127.0.0.1:" + itoa(port) + "/" + AzureAccount + "?comp=list" }
	p, port, err := startServer(ctx, "azurite", logPath, launch, probe)
	if err != nil {
		if owns {
			os.RemoveAll(dir)
		}
		return nil, err
	}
	root := "http://127.0.0.1:" + itoa(port)
	front, err := NewCopySourceFront(root, AzureAccount, AzureKey, FrontOptions{})
	if err != nil {
		_ = p.stop(15 * time.Second)
		if owns {
			os.RemoveAll(dir)
		}
		return nil, err
	}
	a := &AzureServer{
		Endpoint:        front.URL + "/" + AzureAccount,
		AzuriteEndpoint: root + "/" + AzureAccount,
		Account:         AzureAccount,
		Key:             AzureKey,
		Front:           front,
		DataDir:         dir,
		proc:            p,
		ownsData:        owns,
	}
	fmt.Fprintf(log, "testenv: azurite listening on %s, copy-source front on %s\n", a.AzuriteEndpoint, a.Endpoint)
	return a, nil
}

// Stop stops the front and Azurite (SIGTERM, then SIGKILL after 15 s; it can
// take ~10 s to exit) and removes the data directory StartAzure created.
func (a *AzureServer) Stop() error {
	if a == nil {
		return nil
	}
	var err error
	if a.Front != nil {
		err = a.Front.Close()
	}
	if a.proc != nil {
		if perr := a.proc.stop(15 * time.Second); err == nil {
			err = perr
		}
	}
	if a.ownsData {
		if rerr := os.RemoveAll(a.DataDir); err == nil {
			err = rerr
		}
	}
	return err
}

// ConnectionString returns a connection string whose blob endpoint is the
// front.
func (a *AzureServer) ConnectionString() string {
	return "DefaultEndpointsProtocol=http;AccountName=" + a.Account + ";AccountKey=" + a.Key + ";BlobEndpoint=" + a.Endpoint + ";"
}
