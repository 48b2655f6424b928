package stdlib

import "embed"

// FS holds every stdlib module by file name.
//
//go:embed *.star
var FS embed.FS
