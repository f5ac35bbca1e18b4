//go:build !unix

package local

import (
	"io/fs"
	"os"
)

// removeFile removes path unless it is now a directory.
func removeFile(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return &fs.PathError{Op: "remove", Path: path, Err: fs.ErrNotExist}
	}
	return os.Remove(path)
}
