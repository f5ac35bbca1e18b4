// Package naming holds the pure rules that turn S3 names into Azure Blob
// Storage names: bucket → container (MapBuckets, ValidContainerName) and
// object key → blob name (CheckBlobName, JoinBlobName, EncodeBlobName,
// DecodeBlobName). It does no I/O and imports only the standard library; the
// same input always gives the same output.
//
// # Bucket → container
//
// MapBuckets maps a whole set of buckets at once, because a name can only be
// chosen safely knowing every other name of the set. The steps, applied to the
// buckets in sorted order so the result does not depend on listing order:
//
//  1. Overrides (MapOptions.Overrides) come first. Each target must be a valid
//     container name, two buckets may not override to the same container, and
//     a target may not be the unchanged name of another bucket of the set;
//     otherwise that bucket gets an ErrInvalidOverride or ErrCollision error.
//  2. A bucket whose name is already a valid container name keeps it.
//  3. AzCopy's algorithm, exactly, for a name made of [a-z0-9.-] of at most 63
//     characters that contains "." or "--": every "." becomes "-", then every
//     run of k ≥ 2 hyphens becomes "-k-" (my----bucket → my-4-bucket,
//     bucket.name.1 → bucket-name-1, b---name → b-3-name). A result longer
//     than 63 characters cannot be mapped (ErrCannotMap); AzCopy users get the
//     same failure.
//  4. Legacy us-east-1 names (uppercase letters, underscores, or longer than 63
//     characters; only [A-Za-z0-9._-] in any case) are mapped
//     deterministically, a step AzCopy does not have: lowercase; "_" and "."
//     become "-"; leading and trailing hyphens are removed; runs of k ≥ 2
//     hyphens become "-k-" as in step 3. If the result is longer than 63
//     characters it is cut to its first 50, trailing hyphens removed, and
//     "-" plus the first 8 hex digits of the SHA-256 of the original bucket
//     name appended (at most 59 characters, leaving room for a "-999"
//     collision suffix). Truncation is preferred to "cannot map" because a
//     legacy bucket otherwise needs a hand-written override.
//  5. Collisions: when the name from step 3 or 4 equals any original bucket
//     name of the set (overridden or not) or a container already given to
//     another bucket (an override target, a kept name, or an earlier derived
//     name), "-2", "-3", … "-999" is appended, the first free one winning. A
//     suffixed name longer than 63 characters, or no free suffix, cannot be
//     mapped. Because derived names are resolved in sorted bucket order, the
//     same set always gives the same containers (AzCopy resolves in map
//     order, so its choice between two colliding buckets is random).
//  6. Every result is validated against all container rules (3–63 characters;
//     lowercase letters, digits and hyphens; starting and ending with a letter
//     or digit; no "--"). A name that fails gets ErrCannotMap with the rule it
//     breaks, never a failure at container-creation time. Names with
//     characters S3 never allows (spaces, "/", non-ASCII …) cannot be mapped.
//  7. Existing containers (MapOptions.Existing) are only consulted after the
//     names are chosen: a chosen name that already exists is an ErrCollision
//     unless MapOptions.AllowExisting. Existing containers deliberately do not
//     steer the choice of a suffix: a second run of the same migration would
//     otherwise see the containers the first run created and pick different
//     names.
//
// Input duplicates are collapsed: MapBuckets returns one Mapping per distinct
// bucket name.
//
// # Key → blob name
//
// CheckBlobName reports the keys Azure cannot hold or address, with a typed
// reason (errors.Is against ErrEmptyName, ErrInvalidUTF8, ErrNameTooLong,
// ErrTooManySegments, ErrControlChar, ErrBackslash, ErrTrailingDot). Lengths
// are counted in UTF-16 code units, as Azure's service does (a character
// outside the Basic Multilingual Plane counts twice); segments are counted as
// the number of "/" plus one, so empty segments count too (conservative).
//
// JoinBlobName puts a destination prefix in front of a key without altering
// the key: the prefix loses leading and trailing slashes and its own runs of
// slashes collapse, and one "/" is placed between a non-empty prefix and the
// key. A key's own leading "/" is kept, so keys "a" and "/a" never collide.
//
// EncodeBlobName is the opt-in reversible encoding behind
// --rename-invalid-keys; DecodeBlobName(EncodeBlobName(k)) == k for every
// string k, valid UTF-8 or not. The encoding changes only what Azure refuses
// (and what would make decoding ambiguous):
//
//   - the last "." of a path segment that ends in "." becomes "．" (U+FF0E,
//     FULLWIDTH FULL STOP);
//   - "\" becomes "＼" (U+FF3C, FULLWIDTH REVERSE SOLIDUS);
//   - a control character (Unicode category Cc: U+0000–U+001F, U+007F–U+009F)
//     becomes "__0x<hex>__", the lowercase hexadecimal code point without
//     leading zeros (U+0001 → "__0x1__"), the scheme of go-cloud's
//     internal/escape;
//   - a byte that is not part of valid UTF-8 becomes "__0x110<hh>__", i.e.
//     0x110000 plus the byte value, a number above every Unicode code point;
//   - the escape of the escape: a literal "．" or "＼" anywhere in the key, and
//     the first "_" of every literal "__0x", are written as hex escapes
//     themselves ("__0xff0e__", "__0xff3c__", "__0x5f__"), so the decoder can
//     turn every "．" back into "." and every "＼" back into "\".
//
// Apply EncodeBlobName to every key of a run once the option is on, not only
// to the keys CheckBlobName rejects: the encoding is injective, but mixing
// encoded and raw names is not ("a." encodes to "a．", which is also a valid
// raw key). Valid keys without "．", "＼" or "__0x" encode to themselves, so
// this costs nothing for ordinary keys. An encoded name can still be too long
// or have too many segments; check it with CheckBlobName.
package naming
