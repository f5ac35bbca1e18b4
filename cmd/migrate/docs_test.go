package main

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// The documentation is checked against the flag definitions, so that it
// cannot drift from them:
//
//   - every flag of 'migrate copy' and 'migrate sync' (newCopyFlagSet) and of
//     'migrate jobs' (runJobs) appears in docs/usage.md as `--name`;
//   - every flag of verify's own (newVerifyFlagSet) appears in docs/verify.md;
//   - hidden flags (aliases kept for AzCopy users) may be documented in any
//     file of docs/, next to the name they stand for or in the AzCopy
//     mapping;
//   - every `--name` that usage.md or verify.md mentions is a flag that
//     exists, so a renamed or removed flag cannot live on in the reference;
//   - README.md starts with the two commands, ./scripts/demo.sh and
//     ./scripts/test.sh, and both scripts exist.

const docsDir = "../../docs"

func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(docsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mentions reports whether doc names the flag as `--name`, not as the
// prefix of a longer flag (--include is not --include-after).
func mentions(doc, name string) bool {
	re := regexp.MustCompile(`--` + regexp.QuoteMeta(name) + `(?:[^A-Za-z0-9-]|$)`)
	return re.MatchString(doc)
}

// flagNames lists the flags of fs, hidden ones apart.
func flagNames(fs *pflag.FlagSet) (visible, hidden []string) {
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			hidden = append(hidden, f.Name)
		} else {
			visible = append(visible, f.Name)
		}
	})
	return visible, hidden
}

// jobsFlagNames reads the flags runJobs defines on its flag set from
// jobs.go: the set is local to runJobs, so its definitions are read from
// the source (every fs.Xxx("name", …) or fs.XxxVar(&v, "name", …) call).
func jobsFlagNames(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "jobs.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "runJobs" {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if recv, ok := sel.X.(*ast.Ident); !ok || recv.Name != "fs" || !isFlagDefinition(sel.Sel.Name) {
				return true
			}
			arg := 0
			if strings.HasSuffix(sel.Sel.Name, "Var") || strings.HasSuffix(sel.Sel.Name, "VarP") {
				arg = 1 // fs.XxxVar(&v, "name", …)
			}
			if arg < len(call.Args) {
				if lit, ok := call.Args[arg].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil {
						names = append(names, s)
					}
				}
			}
			return true
		})
	}
	if len(names) == 0 {
		t.Fatal("found no flag definitions in runJobs (jobs.go): has the flag set moved?")
	}
	return names
}

// isFlagDefinition says whether a pflag.FlagSet method defines a flag.
func isFlagDefinition(m string) bool {
	switch m {
	case "Parse", "Parsed", "Args", "Arg", "NArg", "NFlag", "SetOutput", "Usage", "Lookup", "Set", "Visit", "VisitAll",
		"PrintDefaults", "FlagUsages", "MarkHidden", "MarkDeprecated", "Changed", "HasFlags", "AddFlag", "AddFlagSet":
		return false
	}
	for _, p := range []string{"String", "Bool", "Int", "Uint", "Float", "Duration", "Var", "Count", "IP", "BytesHex", "BytesBase64"} {
		if strings.HasPrefix(m, p) {
			return true
		}
	}
	return false
}

func TestDocsListEveryFlag(t *testing.T) {
	usage := readDoc(t, "usage.md")
	verify := readDoc(t, "verify.md")
	entries, err := os.ReadDir(docsDir)
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".md") {
			all.WriteString(readDoc(t, e.Name()))
		}
	}

	copyVisible, copyHidden := flagNames(newCopyFlagSet(&copyFlags{}, io.Discard))
	verifyVisible, verifyHidden := flagNames(newVerifyFlagSet(&verifyFlags{}, io.Discard))
	jobs := jobsFlagNames(t)
	if len(copyVisible) < 30 || len(verifyVisible) < 4 {
		t.Fatalf("too few flags found (copy %d, verify %d): is the test reading the right flag sets?", len(copyVisible), len(verifyVisible))
	}

	for _, n := range append(slices.Clone(copyVisible), jobs...) {
		if !mentions(usage, n) {
			t.Errorf("docs/usage.md does not document --%s (a flag of copy/sync or jobs)", n)
		}
	}
	for _, n := range verifyVisible {
		if !mentions(verify, n) {
			t.Errorf("docs/verify.md does not document --%s (a flag of verify)", n)
		}
	}
	for _, n := range append(slices.Clone(copyHidden), verifyHidden...) {
		if !mentions(all.String(), n) {
			t.Errorf("no file of docs/ mentions the alias --%s", n)
		}
	}

	// The reverse: what the reference documents exists.
	known := map[string]bool{"help": true, "version": true}
	for _, list := range [][]string{copyVisible, copyHidden, verifyVisible, verifyHidden, jobs} {
		for _, n := range list {
			known[n] = true
		}
	}
	flagRE := regexp.MustCompile("(?:^|[\\s`(|,/])--([a-z0-9][a-z0-9-]*)")
	for name, doc := range map[string]string{"usage.md": usage, "verify.md": verify} {
		for _, m := range flagRE.FindAllStringSubmatch(doc, -1) {
			n := strings.TrimRight(m[1], "-")
			if !known[n] {
				t.Errorf("docs/%s documents --%s, which no command defines", name, n)
			}
		}
	}
}

func TestDocsReadmeStartsWithTheTwoCommands(t *testing.T) {
	fh, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	// The first commands of the first code block.
	var cmds []string
	inBlock := false
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "```") {
			if inBlock {
				break
			}
			inBlock = true
			continue
		}
		if !inBlock || line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cmd, _, _ := strings.Cut(line, "#"); strings.TrimSpace(cmd) != "" {
			cmds = append(cmds, strings.Fields(cmd)[0])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"./scripts/demo.sh", "./scripts/test.sh"}
	if len(cmds) < 2 || !slices.Equal(cmds[:2], want) {
		t.Errorf("README.md's first code block starts with %q, want %q", cmds, want)
	}
	for _, s := range want {
		st, err := os.Stat(filepath.Join("../..", s))
		if err != nil {
			t.Errorf("README.md names %s: %v", s, err)
			continue
		}
		if st.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable", s)
		}
	}
}
