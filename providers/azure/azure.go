// Package azure is the Azure Blob Storage destination of migrate, built on
// azblob. A *Destination creates and lists containers, stats and lists
// blobs, ingests blobs server-side from a URL (Put Blob From URL; Put Block
// From URL and Put Block List for objects past one request), stages blocks
// streamed through this process (Put Block with a transactional MD5), lists
// the uncommitted blocks of a blob so an interrupted copy resumes block by
// block, reads blobs back (verify --deep) and deletes them (sync), and
// states Azure's size limits. A fetch from a URL is made
// conditional on the source's listed ETag (x-ms-source-if-match) when the
// URL carries one. Blob index tags and the access tier are set in the
// request that creates a blob. Every error it returns is a
// *providers.Error classified at this boundary, wrapping the SDK error
// (errors.As reaches *azcore.ResponseError), with a one-line message that
// never contains a SAS, key or presigned URL. The SDK's own retries are
// disabled: the pipeline owns the single retry layer. ParseURL reads the
// destination URL forms users type.
package azure

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/migrate-tool/migrate/providers"
)

// Azure's size rules (https://learn.microsoft.com/rest/api/storageservices/put-blob-from-url
// and put-block).
const (
	mib = 1 << 20
	// MaxPutBlob is the largest body of one Put Blob.
	MaxPutBlob = 5000 * mib
	// MaxPutBlobFromURL is the largest source one Put Blob From URL accepts.
	MaxPutBlobFromURL = 5000 * mib
	// MaxBlockSize is the largest block of a block blob.
	MaxBlockSize = 4000 * mib
	// MaxBlocks is the most committed blocks of one block blob.
	MaxBlocks = 50000
	// MaxBlockIDLen is the longest block ID before base64 encoding.
	MaxBlockIDLen = 64
	// maxListResults is the largest page the service returns.
	maxListResults = 5000
)

// Credential says how to authenticate. Set at most one field; none set means
// azidentity.NewDefaultAzureCredential (environment, workload identity,
// managed identity, Azure CLI, ...).
type Credential struct {
	// SAS is a shared access signature query string, without the leading '?'.
	SAS providers.Secret
	// AccountKey is the storage account's shared key (base64).
	AccountKey providers.Secret
	// ConnectionString is an Azure Storage connection string. Its
	// BlobEndpoint, AccountName, AccountKey and SharedAccessSignature are
	// honoured (and UseDevelopmentStorage=true); Options.ServiceURL, when
	// also given, wins over the endpoint it names.
	ConnectionString providers.Secret
	// Token is an Entra ID (Azure AD) credential.
	Token azcore.TokenCredential
}

func (c Credential) count() int {
	n := 0
	for _, set := range []bool{c.SAS != "", c.AccountKey != "", c.ConnectionString != "", c.Token != nil} {
		if set {
			n++
		}
	}
	return n
}

// Options configure New.
type Options struct {
	// ServiceURL is the blob service endpoint, e.g.
	// https://ACCOUNT.blob.core.windows.net/ or an emulator's
	// http://127.0.0.1:PORT/devstoreaccount1. When empty it is derived from
	// the connection string or from Account (public cloud).
	ServiceURL string
	// Account is the storage account name. Needed with AccountKey when it
	// cannot be read from ServiceURL.
	Account string
	// Credential: exactly one field set, or none for the default chain.
	Credential Credential
	// WrapTransport, when set, wraps the HTTP transport (tests: fault
	// injection, request recording).
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// Destination is an Azure Blob Storage account as a migration destination.
// It is safe for concurrent use.
type Destination struct {
	svc        *service.Client
	serviceURL string // without query, with a trailing slash
	account    string
	// containerPageSize is List Containers' maxresults (0: Azure's 5000);
	// tests lower it to exercise paging.
	containerPageSize int32
}

// Compile-time checks of the capabilities Destination provides.
var (
	_ providers.Destination     = (*Destination)(nil)
	_ providers.URLIngester     = (*Destination)(nil)
	_ providers.BlockStager     = (*Destination)(nil)
	_ providers.Limiter         = (*Destination)(nil)
	_ providers.ContainerLister = (*Destination)(nil)
	_ providers.BlockLister     = (*Destination)(nil)
	_ providers.RangeReader     = (*Destination)(nil)
	_ providers.Deleter         = (*Destination)(nil)
)

// New builds a Destination. It sends no request. Errors name the option that
// is wrong and never contain a credential.
func New(o Options) (*Destination, error) {
	if o.Credential.count() > 1 {
		return nil, errors.New("azure: set at most one of SAS, AccountKey, ConnectionString and Token")
	}
	serviceURL := strings.TrimSpace(o.ServiceURL)
	account := o.Account
	cred := o.Credential

	if cred.ConnectionString != "" {
		cs, err := parseConnectionString(cred.ConnectionString.Reveal())
		if err != nil {
			return nil, err
		}
		if serviceURL == "" {
			serviceURL = cs.endpoint
		}
		if account == "" {
			account = cs.account
		}
		cred = Credential{AccountKey: providers.Secret(cs.key), SAS: providers.Secret(cs.sas)}
	}

	if serviceURL == "" {
		if account == "" {
			return nil, errors.New("azure: need ServiceURL or Account (e.g. https://ACCOUNT.blob.core.windows.net/)")
		}
		if !validAccount(account) {
			return nil, fmt.Errorf("azure: account name %q is not valid: 3-24 lowercase letters and digits", account)
		}
		serviceURL = "https://" + account + ".blob.core.windows.net/"
	}
	u, err := url.Parse(serviceURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("azure: ServiceURL %q is not an http(s) URL with a host, e.g. https://ACCOUNT.blob.core.windows.net/", providers.RedactURL(serviceURL))
	}
	if u.RawQuery != "" {
		// A SAS pasted into the service URL.
		if cred.count() > 0 {
			return nil, errors.New("azure: ServiceURL carries a query string (a SAS?) and a credential is also set; use one")
		}
		cred.SAS = providers.Secret(u.RawQuery)
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	serviceURL = u.String()
	if account == "" {
		account = accountFromServiceURL(u)
	}

	opts := &service.ClientOptions{ClientOptions: clientOptions(o.WrapTransport)}
	var svc *service.Client
	switch {
	case cred.SAS != "":
		sas := strings.TrimPrefix(cred.SAS.Reveal(), "?")
		svc, err = service.NewClientWithNoCredential(serviceURL+"?"+sas, opts)
	case cred.AccountKey != "":
		if account == "" {
			return nil, errors.New("azure: AccountKey needs Account (it cannot be read from ServiceURL)")
		}
		var kc *service.SharedKeyCredential
		kc, err = service.NewSharedKeyCredential(account, cred.AccountKey.Reveal())
		if err != nil {
			return nil, errors.New("azure: AccountKey is not valid base64")
		}
		svc, err = service.NewClientWithSharedKeyCredential(serviceURL, kc, opts)
	case cred.Token != nil:
		svc, err = service.NewClient(serviceURL, cred.Token, opts)
	default:
		var tc azcore.TokenCredential
		// Token acquisition keeps azidentity's own retry rules (IMDS
		// needs them); only the storage requests are single-try.
		idOpts := clientOptions(o.WrapTransport)
		idOpts.Retry = policy.RetryOptions{}
		tc, err = azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: idOpts})
		if err != nil {
			return nil, fmt.Errorf("azure: no credential given and the default Azure credential chain failed: %s", providers.Redact(firstLine(err.Error())))
		}
		svc, err = service.NewClient(serviceURL, tc, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("azure: building the client: %s", providers.Redact(firstLine(err.Error())))
	}
	return &Destination{svc: svc, serviceURL: serviceURL, account: account}, nil
}

// clientOptions disables the SDK's retries (MaxRetries < 0 means a single
// try, see azcore runtime/policy_retry.go setDefaults) and uses a transport
// tuned for many concurrent requests to one host.
func clientOptions(wrap func(http.RoundTripper) http.RoundTripper) azcore.ClientOptions {
	var rt http.RoundTripper = newTransport()
	if wrap != nil {
		rt = wrap(rt)
	}
	return azcore.ClientOptions{
		Retry:     policy.RetryOptions{MaxRetries: -1},
		Transport: &http.Client{Transport: rt},
	}
}

// newTransport is http.DefaultTransport's settings with idle pools sized for
// hundreds of requests in flight to one account, so connections are reused
// instead of churned. No overall timeout: a Put Blob From URL of 5000 MiB
// legitimately takes minutes; callers bound requests with their context.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		DisableCompression:    true, // blob bytes are never decoded on the way
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		WriteBufferSize:       32 << 10, // per connection: with hundreds of connections in flight, 256 KiB each cost 128 MiB+ (docs/performance.md)
		ReadBufferSize:        32 << 10,
	}
}

// accountFromServiceURL reads the account from ACCOUNT.blob.<suffix> or from
// the first path segment of an emulator URL; "" when neither applies.
func accountFromServiceURL(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	if acct, _, ok := strings.Cut(host, ".blob."); ok && validAccount(acct) {
		return acct
	}
	if isLocalHost(host) {
		seg, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		if validAccount(seg) {
			return seg
		}
	}
	return ""
}

// ServiceURL returns the blob service endpoint in use (no query string).
func (d *Destination) ServiceURL() string { return d.serviceURL }

// Account returns the storage account name, "" when unknown.
func (d *Destination) Account() string { return d.account }

// Limits returns Azure's limits: 5000 MiB per Put Blob From URL, 4000 MiB per
// block, 50,000 blocks per blob.
func (d *Destination) Limits() providers.Limits {
	return providers.Limits{MaxPutBlobFromURL: MaxPutBlobFromURL, MaxBlockSize: MaxBlockSize, MaxBlocks: MaxBlocks}
}

func (d *Destination) blockBlob(containerName, name string) *blockblob.Client {
	return d.svc.NewContainerClient(containerName).NewBlockBlobClient(name)
}

// EnsureContainer creates container when missing (Create Container). created
// is true only when this call created it; ContainerAlreadyExists is not an
// error. A container being deleted is Transient (retry later).
func (d *Destination) EnsureContainer(ctx context.Context, containerName string) (bool, error) {
	_, err := d.svc.NewContainerClient(containerName).Create(ctx, nil)
	if err == nil {
		return true, nil
	}
	if bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return false, nil
	}
	return false, classify(ctx, "EnsureContainer", containerName, err)
}

// StatBlob returns a committed blob's size, ETag (without quotes),
// last-modified time, access tier (as Tier and as StorageClass), version id,
// properties and blob index tags (Get Blob Properties). Get Blob Properties
// gives only the number of tags (x-ms-tag-count, reported as TagCount), so
// Get Blob Tags is called only when it is above zero: a blob without tags
// costs one request. The two requests are not atomic; a blob replaced in
// between may report the new blob's tags. Tier is what Azure reports, also
// when it is the inferred account default. Metadata keys are lowercased:
// Go's HTTP stack canonicalizes header names, so the case Azure stored is
// not observable through a HEAD, and Azure treats metadata names
// case-insensitively. A missing blob or container is NotFound; a blob with
// only uncommitted blocks is NotFound too.
func (d *Destination) StatBlob(ctx context.Context, containerName, name string) (providers.ObjectInfo, error) {
	const op = "StatBlob"
	where := containerName + "/" + name
	resp, err := d.blockBlob(containerName, name).GetProperties(ctx, nil)
	if err != nil {
		return providers.ObjectInfo{}, classify(ctx, op, where, err)
	}
	info := providers.ObjectInfo{
		Object: providers.Object{
			Key:          name,
			Size:         deref(resp.ContentLength),
			ETag:         trimETag(resp.ETag),
			LastModified: deref(resp.LastModified),
			StorageClass: deref(resp.AccessTier),
			VersionID:    deref(resp.VersionID),
		},
		Properties: providers.Properties{
			ContentType:        deref(resp.ContentType),
			ContentEncoding:    deref(resp.ContentEncoding),
			ContentDisposition: deref(resp.ContentDisposition),
			ContentLanguage:    deref(resp.ContentLanguage),
			CacheControl:       deref(resp.CacheControl),
			ContentMD5:         resp.ContentMD5,
			Tier:               deref(resp.AccessTier),
		},
		TagCount: int(deref(resp.TagCount)),
	}
	if len(resp.Metadata) > 0 {
		info.Metadata = make(map[string]string, len(resp.Metadata))
		for k, v := range resp.Metadata {
			info.Metadata[strings.ToLower(k)] = deref(v)
		}
	}
	if info.TagCount > 0 {
		tr, err := d.blockBlob(containerName, name).GetTags(ctx, nil)
		if err != nil {
			return providers.ObjectInfo{}, classify(ctx, op, where, err)
		}
		info.Tags = make(map[string]string, len(tr.BlobTagSet))
		for _, tag := range tr.BlobTagSet {
			if tag != nil && tag.Key != nil {
				info.Tags[*tag.Key] = deref(tag.Value)
			}
		}
	}
	return info, nil
}

// ListContainers returns the names of the account's containers that start
// with prefix ("" for all), following every page of List Containers, in
// ascending byte order (Azure's order; container names are lowercase
// ASCII).
func (d *Destination) ListContainers(ctx context.Context, prefix string) ([]string, error) {
	const op = "ListContainers"
	lo := &service.ListContainersOptions{}
	if prefix != "" {
		lo.Prefix = to.Ptr(prefix)
	}
	if d.containerPageSize > 0 {
		lo.MaxResults = to.Ptr(d.containerPageSize)
	}
	var names []string
	pager := d.svc.NewListContainersPager(lo)
	for pager.More() {
		resp, err := pager.NextPage(ctx)
		if err != nil {
			return nil, classify(ctx, op, prefix, err)
		}
		for _, c := range resp.ContainerItems {
			if c != nil && c.Name != nil {
				names = append(names, *c.Name)
			}
		}
	}
	// Azure lists in order already; sorting costs nothing and makes the
	// contract hold whatever a proxy or emulator does.
	slices.Sort(names)
	return names, nil
}

// ListBlobs returns one page of the committed blobs of container whose names
// start with opts.Prefix (List Blobs, flat), in ascending byte order, each
// with its Content-MD5 as ListedMD5 when it has one (Azure sets it on a
// blob uploaded in one request, and on any blob committed with one). Next is
// Azure's opaque marker, "" on the last page. MaxResults above 5000 is
// capped at 5000; 0 lets Azure choose (5000). A missing container is
// NotFound.
func (d *Destination) ListBlobs(ctx context.Context, containerName string, opts providers.ListOptions) (providers.Page, error) {
	lo := &container.ListBlobsFlatOptions{}
	if opts.Prefix != "" {
		lo.Prefix = to.Ptr(opts.Prefix)
	}
	if opts.Token != "" {
		lo.Marker = to.Ptr(opts.Token)
	}
	if opts.MaxResults < 0 {
		return providers.Page{}, &providers.Error{Kind: providers.KindInvalid, Op: "ListBlobs", Where: containerName, Msg: fmt.Sprintf("MaxResults %d is negative", opts.MaxResults)}
	}
	if opts.MaxResults > 0 {
		lo.MaxResults = to.Ptr(int32(min(opts.MaxResults, maxListResults)))
	}
	pager := d.svc.NewContainerClient(containerName).NewListBlobsFlatPager(lo)
	resp, err := pager.NextPage(ctx)
	if err != nil {
		return providers.Page{}, classify(ctx, "ListBlobs", containerName, err)
	}
	var page providers.Page
	if resp.Segment != nil {
		page.Objects = make([]providers.Object, 0, len(resp.Segment.BlobItems))
		for _, it := range resp.Segment.BlobItems {
			if it == nil || it.Name == nil {
				continue
			}
			o := providers.Object{Key: *it.Name, VersionID: deref(it.VersionID)}
			if p := it.Properties; p != nil {
				o.Size = deref(p.ContentLength)
				o.ETag = trimETag(p.ETag)
				o.LastModified = deref(p.LastModified)
				o.StorageClass = string(deref(p.AccessTier))
				if len(p.ContentMD5) == md5.Size {
					o.ListedMD5 = p.ContentMD5
				}
			}
			page.Objects = append(page.Objects, o)
		}
	}
	page.Next = deref(resp.NextMarker)
	return page, nil
}

// OpenRange returns a reader of bytes r of blob obj.Key in container (Get
// Blob with x-ms-range; the whole blob for a zero Range), so a verify can
// read blobs back. When obj.ETag is set the read is conditional on it
// (If-Match): a blob replaced since it was listed fails with Precondition.
// Errors of the request and of reading the body are classified like every
// other (a connection reset while reading is Transient); the SDK's retry
// reader is not used, the caller owns retries. r must have Offset >= 0 and
// Count >= 0 (0 = to the end); a range past the end is Invalid.
func (d *Destination) OpenRange(ctx context.Context, containerName string, obj providers.Object, r providers.Range) (io.ReadCloser, error) {
	const op = "DownloadBlob"
	where := containerName + "/" + obj.Key
	if r.Offset < 0 || r.Count < 0 {
		return nil, &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where,
			Msg: fmt.Sprintf("range offset %d count %d: need both >= 0", r.Offset, r.Count)}
	}
	if err := ctx.Err(); err != nil {
		return nil, classify(ctx, op, where, err)
	}
	o := &blob.DownloadStreamOptions{Range: blob.HTTPRange{Offset: r.Offset, Count: r.Count}}
	if obj.ETag != "" {
		etag := azcore.ETag(`"` + strings.Trim(obj.ETag, `"`) + `"`)
		o.AccessConditions = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: &etag}}
	}
	resp, err := d.blockBlob(containerName, obj.Key).DownloadStream(ctx, o)
	if err != nil {
		return nil, classify(ctx, op, where, err)
	}
	if resp.Body == nil {
		return nil, &providers.Error{Kind: providers.KindUnknown, Op: op, Where: where, Msg: "Azure answered without a body"}
	}
	return providers.ClassifyReads(resp.Body, func(err error) error { return classify(ctx, "DownloadBlob (read)", where, err) }), nil
}

// DeleteBlob deletes blob name (Delete Blob) and its uncommitted blocks. A
// missing blob or container is NotFound. A blob that has snapshots is not
// deleted: Azure refuses (409 SnapshotsPresent) and the error says so;
// deleting snapshots is not this tool's call.
func (d *Destination) DeleteBlob(ctx context.Context, containerName, name string) error {
	const op = "DeleteBlob"
	where := containerName + "/" + name
	if err := ctx.Err(); err != nil {
		return classify(ctx, op, where, err)
	}
	_, err := d.blockBlob(containerName, name).Delete(ctx, nil)
	return classify(ctx, op, where, err)
}

// PutBlobFromURL creates or replaces blob name with the whole content at src
// (Put Blob From URL, synchronous): Azure GETs src itself. The blob gets
// props' five content headers, its ContentMD5 as the blob's Content-MD5
// (stored, not verified), its metadata, its Tags as blob index tags
// (x-ms-tags) and its Tier as the access tier (x-ms-access-tier), each sent
// only when set; nothing is copied from the source's own headers. Tags,
// metadata names or a tier Azure refuses are Invalid (see classify). size
// must be 0..5000 MiB, else the call fails with KindInvalid before sending
// anything. When Azure cannot read src the error is classified by the
// source's status (see classify): 401/403 → SourceUnreachable, 404 →
// NotFound, 412 → Precondition, 429/503 → Throttled, 5xx → Transient.
// src.IfMatch, when set, makes Azure's fetch conditional on the source's
// ETag (x-ms-source-if-match, see sourceConditions): a source changed since
// it was listed fails with Precondition and nothing is written.
func (d *Destination) PutBlobFromURL(ctx context.Context, containerName, name string, src providers.SourceURL, size int64, props providers.Properties) error {
	const op = "PutBlobFromURL"
	where := containerName + "/" + name
	if size < 0 || size > MaxPutBlobFromURL {
		return &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where,
			Msg: fmt.Sprintf("source is %d bytes; Put Blob From URL takes at most %d (5000 MiB): stage blocks from the URL instead", size, int64(MaxPutBlobFromURL))}
	}
	if src.URL == "" {
		return &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where, Msg: "empty source URL"}
	}
	if err := ctx.Err(); err != nil {
		return classify(ctx, op, where, err)
	}
	_, err := d.blockBlob(containerName, name).UploadBlobFromURL(ctx, src.URL.Reveal(), &blockblob.UploadBlobFromURLOptions{
		CopySourceBlobProperties:       to.Ptr(false),
		HTTPHeaders:                    httpHeaders(props),
		Metadata:                       metadata(props.Metadata),
		Tags:                           tags(props.Tags),
		Tier:                           tier(props.Tier),
		SourceModifiedAccessConditions: sourceConditions(src),
	})
	return classify(ctx, op, where, err)
}

// StageBlockFromURL stages bytes r of src as block id of blob name (Put Block
// From URL with x-ms-source-range; the whole source for a zero Range). The
// block stays uncommitted until CommitBlocks lists it. r.Count must be
// 1..4000 MiB (or r zero); id must be 1..64 bytes. Source failures, and a
// src.IfMatch the source no longer meets, are classified as for
// PutBlobFromURL; nothing is staged then.
func (d *Destination) StageBlockFromURL(ctx context.Context, containerName, name string, id providers.BlockID, src providers.SourceURL, r providers.Range) error {
	const op = "StageBlockFromURL"
	where := containerName + "/" + name
	if err := checkBlockID(id); err != nil {
		return &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where, Msg: err.Error()}
	}
	if r != (providers.Range{}) && (r.Offset < 0 || r.Count <= 0 || r.Count > MaxBlockSize) {
		return &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where,
			Msg: fmt.Sprintf("range offset %d count %d: need offset >= 0 and 1 <= count <= %d (4000 MiB)", r.Offset, r.Count, int64(MaxBlockSize))}
	}
	if src.URL == "" {
		return &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where, Msg: "empty source URL"}
	}
	if err := ctx.Err(); err != nil {
		return classify(ctx, op, where, err)
	}
	_, err := d.blockBlob(containerName, name).StageBlockFromURL(ctx, encodeBlockID(id), src.URL.Reveal(), &blockblob.StageBlockFromURLOptions{
		Range:                          blob.HTTPRange{Offset: r.Offset, Count: r.Count},
		SourceModifiedAccessConditions: sourceConditions(src),
	})
	return classify(ctx, op, where, err)
}

// StageBlock uploads size bytes of body, from its current position, as block
// id of blob name (Put Block) with a transactional Content-MD5 so Azure
// rejects a corrupted transfer (400 Md5Mismatch → Invalid). body is read
// twice, once to compute the MD5 and once to send, seeking back in between;
// only the size bytes after the starting position are used. A body shorter
// than size is Invalid. size must be 1..4000 MiB.
func (d *Destination) StageBlock(ctx context.Context, containerName, name string, id providers.BlockID, body io.ReadSeeker, size int64) error {
	const op = "StageBlock"
	where := containerName + "/" + name
	if err := checkBlockID(id); err != nil {
		return &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where, Msg: err.Error()}
	}
	if size <= 0 || size > MaxBlockSize {
		return &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where,
			Msg: fmt.Sprintf("block of %d bytes: need 1..%d (4000 MiB)", size, int64(MaxBlockSize))}
	}
	w, sum, err := providers.HashBody(ctx, op, where, body, size)
	if err != nil {
		return err
	}
	_, err = d.blockBlob(containerName, name).StageBlock(ctx, encodeBlockID(id), streaming.NopCloser(w), &blockblob.StageBlockOptions{
		TransactionalValidation: blob.TransferValidationTypeMD5(sum),
	})
	return classify(ctx, op, where, err)
}

// PutBlob creates or replaces blob name with size bytes of body and props
// in one Put Blob request (at most MaxPutBlob bytes), the body's MD5 sent
// for Azure to check.
func (d *Destination) PutBlob(ctx context.Context, containerName, name string, body io.ReadSeeker, size int64, props providers.Properties) error {
	const op = "PutBlob"
	where := containerName + "/" + name
	if size < 0 || size > MaxPutBlob {
		return &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where,
			Msg: fmt.Sprintf("%d bytes: one Put Blob takes at most %d (5000 MiB); stage blocks instead", size, int64(MaxPutBlob))}
	}
	w, sum, err := providers.HashBody(ctx, op, where, body, size)
	if err != nil {
		return err
	}
	_, err = d.blockBlob(containerName, name).Upload(ctx, streaming.NopCloser(w), &blockblob.UploadOptions{
		HTTPHeaders:             httpHeaders(props),
		Metadata:                metadata(props.Metadata),
		Tags:                    tags(props.Tags),
		Tier:                    tier(props.Tier),
		TransactionalValidation: blob.TransferValidationTypeMD5(sum),
	})
	return classify(ctx, op, where, err)
}

// CommitBlocks commits ids, in order, as the content of blob name and sets
// props' headers (ContentMD5 as the blob's Content-MD5), metadata, tags
// (x-ms-tags) and tier (x-ms-access-tier) in the same request (Put Block
// List, each id taken from the uncommitted or the committed list,
// "Latest"). ids must be 0..50,000 IDs of equal length, each 1..64 bytes;
// zero ids makes an empty blob. Blocks not listed are discarded by Azure.
// Until the commit succeeds an existing blob is untouched.
func (d *Destination) CommitBlocks(ctx context.Context, containerName, name string, ids []providers.BlockID, props providers.Properties) error {
	const op = "CommitBlocks"
	where := containerName + "/" + name
	if len(ids) > MaxBlocks {
		return &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where,
			Msg: fmt.Sprintf("%d blocks: Azure commits at most %d", len(ids), MaxBlocks)}
	}
	enc := make([]string, len(ids))
	for i, id := range ids {
		if err := checkBlockID(id); err != nil {
			return &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where, Msg: fmt.Sprintf("block %d: %v", i, err)}
		}
		if len(id) != len(ids[0]) {
			return &providers.Error{Kind: providers.KindInvalid, Op: op, Where: where,
				Msg: fmt.Sprintf("block %d: ID is %d bytes but block 0's is %d; all IDs of a blob must have the same length", i, len(id), len(ids[0]))}
		}
		enc[i] = encodeBlockID(id)
	}
	if err := ctx.Err(); err != nil {
		return classify(ctx, op, where, err)
	}
	_, err := d.blockBlob(containerName, name).CommitBlockList(ctx, enc, &blockblob.CommitBlockListOptions{
		HTTPHeaders: httpHeaders(props),
		Metadata:    metadata(props.Metadata),
		Tags:        tags(props.Tags),
		Tier:        tier(props.Tier),
	})
	return classify(ctx, op, where, err)
}

// UncommittedBlocks returns the IDs of the staged, uncommitted blocks of
// blob name, in the order Azure reports them (Get Block List,
// blocklisttype=uncommitted). A resumed transfer uses it to skip blocks
// already staged. A blob that does not exist, or has no uncommitted blocks,
// gives none and no error (Azure answers 404 BlobNotFound for a name with
// neither committed nor uncommitted blocks); a missing container is
// NotFound. Azure discards uncommitted blocks a week after they were
// staged, or when the blob is committed or replaced.
func (d *Destination) UncommittedBlocks(ctx context.Context, containerName, name string) ([]providers.BlockID, error) {
	const op = "UncommittedBlocks"
	where := containerName + "/" + name
	resp, err := d.blockBlob(containerName, name).GetBlockList(ctx, blockblob.BlockListTypeUncommitted, nil)
	if bloberror.HasCode(err, bloberror.BlobNotFound) && ctx.Err() == nil {
		return nil, nil
	}
	if err != nil {
		return nil, classify(ctx, op, where, err)
	}
	var ids []providers.BlockID
	for _, b := range resp.UncommittedBlocks {
		if b == nil || b.Name == nil {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(*b.Name)
		if err != nil {
			// Staged by another tool with a non-base64 ID: report it raw.
			raw = []byte(*b.Name)
		}
		ids = append(ids, providers.BlockID(raw))
	}
	return ids, nil
}

// sourceConditions is src.IfMatch as x-ms-source-if-match, nil when unset.
// The SDK sends an ETag verbatim and Azure's ETags are quoted HTTP entity
// tags, so the value is quoted here: "<etag>". Azure passes the condition to
// the source's GET as If-Match, where S3 (and versitygw) accept the quoted
// form, the only one RFC 9110 allows.
func sourceConditions(src providers.SourceURL) *blob.SourceModifiedAccessConditions {
	if src.IfMatch == "" {
		return nil
	}
	etag := azcore.ETag(`"` + strings.Trim(src.IfMatch, `"`) + `"`)
	return &blob.SourceModifiedAccessConditions{SourceIfMatch: &etag}
}

// encodeBlockID is the base64 (standard encoding) form Azure's API takes.
func encodeBlockID(id providers.BlockID) string {
	return base64.StdEncoding.EncodeToString([]byte(id))
}

func checkBlockID(id providers.BlockID) error {
	if len(id) == 0 || len(id) > MaxBlockIDLen {
		return fmt.Errorf("block ID is %d bytes; Azure takes 1..%d", len(id), MaxBlockIDLen)
	}
	return nil
}

func httpHeaders(p providers.Properties) *blob.HTTPHeaders {
	h := &blob.HTTPHeaders{BlobContentMD5: p.ContentMD5}
	set := func(dst **string, v string) {
		if v != "" {
			*dst = to.Ptr(v)
		}
	}
	set(&h.BlobContentType, p.ContentType)
	set(&h.BlobContentEncoding, p.ContentEncoding)
	set(&h.BlobContentDisposition, p.ContentDisposition)
	set(&h.BlobContentLanguage, p.ContentLanguage)
	set(&h.BlobCacheControl, p.CacheControl)
	return h
}

func metadata(m map[string]string) map[string]*string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[k] = to.Ptr(v)
	}
	return out
}

// tags is props.Tags as the SDK sends them (x-ms-tags, form-encoded); nil
// sends no header.
func tags(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// tier is props.Tier as x-ms-access-tier; "" sends no header (the account's
// default tier).
func tier(t string) *blob.AccessTier {
	if t == "" {
		return nil
	}
	return to.Ptr(blob.AccessTier(t))
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func trimETag[T ~string](e *T) string {
	if e == nil {
		return ""
	}
	return strings.Trim(string(*e), `"`)
}

// connString is what New uses from a connection string.
type connString struct {
	endpoint, account, key, sas string
}

// Azurite's well-known development account.
const (
	devAccount = "devstoreaccount1"
	devKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// parseConnectionString reads the fields of an Azure Storage connection
// string (keys case-insensitive). Its errors never echo values.
func parseConnectionString(s string) (connString, error) {
	kv := map[string]string{}
	for part := range strings.SplitSeq(strings.TrimSpace(s), ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return connString{}, errors.New("azure: connection string is not a list of Key=Value pairs separated by ';'")
		}
		kv[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	if strings.EqualFold(kv["usedevelopmentstorage"], "true") {
		ep := "http://127.0.0.1:10000/" + devAccount
		if p := kv["developmentstorageproxyuri"]; p != "" {
			ep = strings.TrimSuffix(p, "/") + "/" + devAccount
		}
		return connString{endpoint: ep, account: devAccount, key: devKey}, nil
	}
	cs := connString{account: kv["accountname"], key: kv["accountkey"], sas: strings.TrimPrefix(kv["sharedaccesssignature"], "?")}
	cs.endpoint = kv["blobendpoint"]
	if cs.endpoint == "" && cs.account != "" {
		proto := kv["defaultendpointsprotocol"]
		if proto == "" {
			proto = "https"
		}
		suffix := kv["endpointsuffix"]
		if suffix == "" {
			suffix = "core.windows.net"
		}
		cs.endpoint = proto + "://" + cs.account + ".blob." + suffix + "/"
	}
	switch {
	case cs.endpoint == "":
		return connString{}, errors.New("azure: connection string needs BlobEndpoint or AccountName")
	case cs.key != "" && cs.sas != "":
		return connString{}, errors.New("azure: connection string has both AccountKey and SharedAccessSignature; keep one")
	case cs.key == "" && cs.sas == "":
		return connString{}, errors.New("azure: connection string has neither AccountKey nor SharedAccessSignature")
	case cs.key != "" && cs.account == "":
		return connString{}, errors.New("azure: connection string has AccountKey but no AccountName")
	}
	return cs, nil
}

// firstLine returns the first non-separator line of s, trimmed.
func firstLine(s string) string {
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && strings.Trim(line, "-=") != "" {
			return line
		}
	}
	return ""
}
