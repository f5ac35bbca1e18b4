package azure

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseURL(t *testing.T) {
	const sas = "sv=2024-08-04&ss=b&srt=co&sp=rwlc&se=2030-01-01T00:00:00Z&sig=SECRETSIG%2Babc%3D"
	tests := []struct {
		in      string
		want    Location
		wantErr string // substring; "" = no error
	}{
		{in: "https://acct.blob.core.windows.net/cont",
			want: Location{Account: "acct", Container: "cont", ServiceURL: "https://acct.blob.core.windows.net/"}},
		{in: "https://acct.blob.core.windows.net/cont/",
			want: Location{Account: "acct", Container: "cont", ServiceURL: "https://acct.blob.core.windows.net/"}},
		{in: "https://acct.blob.core.windows.net/cont/a/b/",
			want: Location{Account: "acct", Container: "cont", Prefix: "a/b/", ServiceURL: "https://acct.blob.core.windows.net/"}},
		{in: "https://acct.blob.core.windows.net/cont//x",
			want: Location{Account: "acct", Container: "cont", Prefix: "/x", ServiceURL: "https://acct.blob.core.windows.net/"}},
		{in: "https://acct.blob.core.windows.net/cont/%E2%9C%93%20x%2Fy%3Fz%23w",
			want: Location{Account: "acct", Container: "cont", Prefix: "✓ x/y?z#w", ServiceURL: "https://acct.blob.core.windows.net/"}},
		{in: "https://acct.blob.core.windows.net/cont/dir/../x",
			want: Location{Account: "acct", Container: "cont", Prefix: "dir/../x", ServiceURL: "https://acct.blob.core.windows.net/"}},
		{in: "https://ACCT.Blob.Core.Windows.Net/cont",
			want: Location{Account: "acct", Container: "cont", ServiceURL: "https://acct.blob.core.windows.net/"}},
		{in: "https://acct.blob.core.windows.net",
			want: Location{Account: "acct", ServiceURL: "https://acct.blob.core.windows.net/"}},
		{in: "https://acct.blob.core.windows.net/",
			want: Location{Account: "acct", ServiceURL: "https://acct.blob.core.windows.net/"}},
		{in: "https://acct.blob.core.windows.net/cont?" + sas,
			want: Location{Account: "acct", Container: "cont", SAS: sas, ServiceURL: "https://acct.blob.core.windows.net/"}},
		{in: "https://acct.blob.core.windows.net:443/$root",
			want: Location{Account: "acct", Container: "$root", ServiceURL: "https://acct.blob.core.windows.net:443/"}},
		{in: "https://acct.blob.core.chinacloudapi.cn/cont/p",
			want: Location{Account: "acct", Container: "cont", Prefix: "p", ServiceURL: "https://acct.blob.core.chinacloudapi.cn/"}},
		{in: "https://acct.blob.core.usgovcloudapi.net/cont",
			want: Location{Account: "acct", Container: "cont", ServiceURL: "https://acct.blob.core.usgovcloudapi.net/"}},
		{in: "https://acct.blob.azurestack.example.com/cont",
			want: Location{Account: "acct", Container: "cont", ServiceURL: "https://acct.blob.azurestack.example.com/"}},
		{in: "http://127.0.0.1:10000/devstoreaccount1/cont/pre/fix",
			want: Location{Account: "devstoreaccount1", Container: "cont", Prefix: "pre/fix", ServiceURL: "http://127.0.0.1:10000/devstoreaccount1/"}},
		{in: "http://localhost:10000/devstoreaccount1",
			want: Location{Account: "devstoreaccount1", ServiceURL: "http://localhost:10000/devstoreaccount1/"}},
		{in: "http://[::1]:10000/devstoreaccount1/c-1",
			want: Location{Account: "devstoreaccount1", Container: "c-1", ServiceURL: "http://[::1]:10000/devstoreaccount1/"}},
		{in: "https://10.0.0.5/acct2/cont?" + sas,
			want: Location{Account: "acct2", Container: "cont", SAS: sas, ServiceURL: "https://10.0.0.5/acct2/"}},

		// Errors.
		{in: "", wantErr: "empty"},
		{in: "acct.blob.core.windows.net/cont", wantErr: "no http:// or https:// scheme"},
		{in: "s3://bucket/key", wantErr: `scheme "s3" is not http or https`},
		{in: "https://example.com/cont", wantErr: "neither ACCOUNT.blob.<suffix> nor an IP"},
		{in: "https://acct.dfs.core.windows.net/cont", wantErr: "use acct.blob.core.windows.net"},
		{in: "https://a.blob.core.windows.net/cont", wantErr: "3-24 lowercase"},
		{in: "https://acct_1.blob.core.windows.net/cont", wantErr: "3-24 lowercase"},
		{in: "https://acct.blob./cont", wantErr: "neither ACCOUNT.blob"},
		{in: "https://acct.blob.core.windows.net/Cont", wantErr: "uppercase"},
		{in: "https://acct.blob.core.windows.net/ab", wantErr: "3-63"},
		{in: "https://acct.blob.core.windows.net/a--b", wantErr: "'--'"},
		{in: "https://acct.blob.core.windows.net/-ab", wantErr: "starts or ends"},
		{in: "https://acct.blob.core.windows.net/a_b", wantErr: "only lowercase"},
		{in: "https://acct.blob.core.windows.net//x", wantErr: "empty container"},
		{in: "https://acct.blob.core.windows.net/cont?restype=container", wantErr: "not a SAS"},
		{in: "https://acct.blob.core.windows.net/cont/a#b", wantErr: "#fragment"},
		{in: "https://user:p4ssw0rd@acct.blob.core.windows.net/cont", wantErr: "user information"},
		{in: "http://127.0.0.1:10000/", wantErr: "must start with /ACCOUNT"},
		{in: "http://127.0.0.1:10000/Dev/cont", wantErr: "3-24 lowercase"},
		{in: "https://acct.blob.core.windows.net/cont/%zz?" + sas, wantErr: "cannot be parsed"},
		{in: "https://acct.blob.core.windows.net/cont?" + sas + "%zz", wantErr: "not a SAS"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseURL(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseURL(%q) = %+v, want error containing %q", tt.in, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), "valid forms") {
					t.Errorf("error %q does not show the valid forms", err)
				}
				for _, secret := range []string{"SECRETSIG", "sig=", "p4ssw0rd"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error %q leaks %q", err, secret)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseURL(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"https://acct.blob.core.windows.net/cont/a/b",
		"https://acct.blob.core.windows.net/cont?sv=1&sig=x",
		"http://127.0.0.1:10000/devstoreaccount1/cont//x%2F",
		"http://localhost/devstoreaccount1",
		"https://u:p@acct.blob.x/c",
		"https://acct.blob.core.windows.net/%zz",
		"s3://b/k",
		"https://[::1/x",
		"",
	} {
		f.Add(s)
	}
	const marker = "FUZZSECRETMARKER"
	f.Fuzz(func(t *testing.T, s string) {
		if strings.Contains(s, marker) {
			return
		}
		for _, in := range []string{s, s + "?sv=2024&sig=" + marker, s + "&sig=" + marker, s + "#" + marker} {
			loc, err := ParseURL(in)
			if err != nil {
				if strings.Contains(err.Error(), marker) {
					t.Fatalf("ParseURL(%q) error leaks the secret: %v", in, err)
				}
				continue
			}
			if loc.Container != "" && validContainer(loc.Container) != nil {
				t.Fatalf("ParseURL(%q) gave invalid container %q", in, loc.Container)
			}
			if !validAccount(loc.Account) {
				t.Fatalf("ParseURL(%q) gave invalid account %q", in, loc.Account)
			}
			if loc.Container == "" && loc.Prefix != "" {
				t.Fatalf("ParseURL(%q): prefix %q without a container", in, loc.Prefix)
			}
			if strings.Contains(loc.ServiceURL, "?") || !strings.HasSuffix(loc.ServiceURL, "/") {
				t.Fatalf("ParseURL(%q): bad ServiceURL %q", in, loc.ServiceURL)
			}
			if strings.Contains(loc.SAS.String(), marker) || strings.Contains(loc.ServiceURL, marker) {
				t.Fatalf("ParseURL(%q): secret outside SAS.Reveal", in)
			}
			_ = utf8.ValidString(loc.Prefix)
		}
	})
}
