package providers

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"io"
	"testing"
)

func TestWindow(t *testing.T) {
	r := bytes.NewReader([]byte("0123456789"))
	r.Seek(3, io.SeekStart)
	w, err := newWindow(r, 4)
	if err != nil {
		t.Fatal(err)
	}
	if end, _ := w.Seek(0, io.SeekEnd); end != 4 {
		t.Fatalf("end %d", end)
	}
	w.Seek(0, io.SeekStart)
	if b, _ := io.ReadAll(w); string(b) != "3456" {
		t.Fatalf("got %q", b)
	}
	w.Seek(2, io.SeekStart)
	if b, _ := io.ReadAll(w); string(b) != "56" {
		t.Fatalf("got %q", b)
	}
	short, _ := newWindow(bytes.NewReader([]byte("ab")), 3)
	if _, err := io.ReadAll(short); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short: %v", err)
	}
}

func TestHashBody(t *testing.T) {
	data := []byte("0123456789")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name      string
		ctx       context.Context
		from      int64
		size      int64
		want      string
		wantKind  Kind
		wantError bool
	}{
		{name: "from the current position", ctx: context.Background(), from: 2, size: 5, want: "23456"},
		{name: "whole", ctx: context.Background(), size: 10, want: "0123456789"},
		{name: "shorter than said", ctx: context.Background(), from: 8, size: 5, wantKind: KindInvalid, wantError: true},
		{name: "canceled", ctx: canceled, size: 10, wantKind: KindCanceled, wantError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bytes.NewReader(data)
			r.Seek(tt.from, io.SeekStart)
			w, sum, err := HashBody(tt.ctx, "Put", "c/b", r, tt.size)
			if tt.wantError {
				if KindOf(err) != tt.wantKind {
					t.Fatalf("error %v, want kind %v", err, tt.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for pass := 0; pass < 2; pass++ { // a retry reads it again
				got, _ := io.ReadAll(w)
				if string(got) != tt.want {
					t.Fatalf("pass %d: %q, want %q", pass, got, tt.want)
				}
				w.Seek(0, io.SeekStart)
			}
			if want := md5.Sum([]byte(tt.want)); !bytes.Equal(sum, want[:]) {
				t.Errorf("MD5 %x, want %x", sum, want)
			}
		})
	}
}
