package local

import (
	"mime"
	"path"
	"strings"
)

// contentTypes are the types of common extensions, so that Stat gives the
// same answer on every machine whatever its /etc/mime.types holds. Types
// are the IANA-registered ones where there is one, without a charset
// parameter (the encoding of a local file is not known; the AWS CLI adds
// none either). ".gz" is application/gzip, not a Content-Encoding, so a
// browser downloads a .tar.gz instead of inflating it.
var contentTypes = map[string]string{
	// Web
	"html":        "text/html",
	"htm":         "text/html",
	"css":         "text/css",
	"js":          "text/javascript", // RFC 9239
	"mjs":         "text/javascript",
	"json":        "application/json",
	"map":         "application/json", // source maps
	"webmanifest": "application/manifest+json",
	"xml":         "application/xml", // RFC 7303
	"wasm":        "application/wasm",
	// Text and documents
	"txt":  "text/plain",
	"csv":  "text/csv",
	"tsv":  "text/tab-separated-values",
	"md":   "text/markdown",
	"yaml": "application/yaml", // RFC 9512
	"yml":  "application/yaml",
	"ics":  "text/calendar",
	"pdf":  "application/pdf",
	"rtf":  "application/rtf",
	"epub": "application/epub+zip",
	"doc":  "application/msword",
	"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	"xls":  "application/vnd.ms-excel",
	"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"ppt":  "application/vnd.ms-powerpoint",
	"pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	// Images
	"svg":  "image/svg+xml",
	"png":  "image/png",
	"jpg":  "image/jpeg",
	"jpeg": "image/jpeg",
	"gif":  "image/gif",
	"webp": "image/webp",
	"avif": "image/avif",
	"bmp":  "image/bmp",
	"tif":  "image/tiff",
	"tiff": "image/tiff",
	"ico":  "image/vnd.microsoft.icon",
	// Fonts (RFC 8081)
	"woff":  "font/woff",
	"woff2": "font/woff2",
	"ttf":   "font/ttf",
	"otf":   "font/otf",
	// Audio and video
	"mp3":  "audio/mpeg",
	"m4a":  "audio/mp4",
	"aac":  "audio/aac",
	"wav":  "audio/wav",
	"flac": "audio/flac",
	"ogg":  "audio/ogg",
	"opus": "audio/ogg",
	"mp4":  "video/mp4",
	"m4v":  "video/mp4",
	"webm": "video/webm",
	"mov":  "video/quicktime",
	"mkv":  "video/x-matroska",
	"avi":  "video/x-msvideo",
	// Archives and compression
	"zip": "application/zip",
	"gz":  "application/gzip",
	"tgz": "application/gzip",
	"tar": "application/x-tar",
	"bz2": "application/x-bzip2",
	"xz":  "application/x-xz",
	"zst": "application/zstd",
	"7z":  "application/x-7z-compressed",
	"jar": "application/java-archive",
	// Data
	"parquet": "application/vnd.apache.parquet",
	"arrow":   "application/vnd.apache.arrow.file",
	"avro":    "application/avro", // not registered; the usual choice
	"ndjson":  "application/x-ndjson",
	"sql":     "application/sql", // RFC 6922
}

// ContentType guesses the content type of key from its extension, case
// insensitively: the fixed table above first, then mime.TypeByExtension
// (which may depend on the machine) for the rest; "" when unknown, so the
// destination's default applies.
func ContentType(key string) string {
	ext := path.Ext(key) // after the last '/', so "a.d/b" has none
	if len(ext) < 2 {
		return ""
	}
	if t, ok := contentTypes[strings.ToLower(ext[1:])]; ok {
		return t
	}
	return mime.TypeByExtension(ext)
}
