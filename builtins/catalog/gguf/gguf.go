package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Magic opens every GGUF file; Version is the only version written (llama.cpp rejects v1 and
// anything above 3).
const (
	Magic   = "GGUF"
	Version = 3
	// DefaultAlignment is the data alignment when general.alignment is absent.
	DefaultAlignment = 32
)

// Metadata value types, as numbered in ggml's gguf.h.
const (
	typeUint8   = 0
	typeInt8    = 1
	typeUint16  = 2
	typeInt16   = 3
	typeUint32  = 4
	typeInt32   = 5
	typeFloat32 = 6
	typeBool    = 7
	typeString  = 8
	typeArray   = 9
	typeUint64  = 10
	typeInt64   = 11
	typeFloat64 = 12
)

// KV is one metadata entry. Value is a string, bool, uint8..uint64, int8..int64, float32, float64
// or a slice of one of these. Loaders are type-strict (llama.cpp refuses an int32 where it wants
// uint32), so the Go type chosen is the GGUF type written.
type KV struct {
	Key   string
	Value any
}

// Type is a ggml tensor type.
type Type uint32

// The ggml tensor types whose sizes this package knows (ggml.h's enum ggml_type).
const (
	F32     Type = 0
	F16     Type = 1
	Q4_0    Type = 2
	Q4_1    Type = 3
	Q5_0    Type = 6
	Q5_1    Type = 7
	Q8_0    Type = 8
	Q8_1    Type = 9
	Q2_K    Type = 10
	Q3_K    Type = 11
	Q4_K    Type = 12
	Q5_K    Type = 13
	Q6_K    Type = 14
	Q8_K    Type = 15
	IQ2_XXS Type = 16
	IQ2_XS  Type = 17
	IQ3_XXS Type = 18
	IQ1_S   Type = 19
	IQ4_NL  Type = 20
	IQ3_S   Type = 21
	IQ2_S   Type = 22
	IQ4_XS  Type = 23
	I8      Type = 24
	I16     Type = 25
	I32     Type = 26
	I64     Type = 27
	F64     Type = 28
	IQ1_M   Type = 29
	BF16    Type = 30
)

// typeTraits are ggml's block size (elements) and bytes per block for each type.
var typeTraits = map[Type]struct {
	name         string
	block, bytes uint64
}{
	F32: {"F32", 1, 4}, F16: {"F16", 1, 2}, BF16: {"BF16", 1, 2}, F64: {"F64", 1, 8},
	I8: {"I8", 1, 1}, I16: {"I16", 1, 2}, I32: {"I32", 1, 4}, I64: {"I64", 1, 8},
	Q4_0: {"Q4_0", 32, 18}, Q4_1: {"Q4_1", 32, 20}, Q5_0: {"Q5_0", 32, 22}, Q5_1: {"Q5_1", 32, 24},
	Q8_0: {"Q8_0", 32, 34}, Q8_1: {"Q8_1", 32, 36}, IQ4_NL: {"IQ4_NL", 32, 18},
	Q2_K: {"Q2_K", 256, 84}, Q3_K: {"Q3_K", 256, 110}, Q4_K: {"Q4_K", 256, 144},
	Q5_K: {"Q5_K", 256, 176}, Q6_K: {"Q6_K", 256, 210}, Q8_K: {"Q8_K", 256, 292},
	IQ2_XXS: {"IQ2_XXS", 256, 66}, IQ2_XS: {"IQ2_XS", 256, 74}, IQ3_XXS: {"IQ3_XXS", 256, 98},
	IQ1_S: {"IQ1_S", 256, 50}, IQ3_S: {"IQ3_S", 256, 110}, IQ2_S: {"IQ2_S", 256, 82},
	IQ4_XS: {"IQ4_XS", 256, 136}, IQ1_M: {"IQ1_M", 256, 56},
}

func (t Type) String() string {
	if tr, ok := typeTraits[t]; ok {
		return tr.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// TensorInfo describes one tensor. Dims are in ggml order: Dims[0] (ne[0]) is the contiguous one,
// so a [n_embd, n_vocab] matrix holds one token's embedding per row. Offset is relative to the
// start of the data section.
type TensorInfo struct {
	Name   string
	Dims   []uint64
	Type   Type
	Offset uint64
}

// Elements is the product of the dimensions.
func (t TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Size is the tensor's data size in bytes; it fails for a type this package does not know or a
// first dimension that is not a whole number of blocks.
func (t TensorInfo) Size() (uint64, error) {
	tr, ok := typeTraits[t.Type]
	if !ok {
		return 0, fmt.Errorf("gguf: tensor %q: unknown type %d", t.Name, uint32(t.Type))
	}
	if len(t.Dims) == 0 || t.Dims[0]%tr.block != 0 {
		return 0, fmt.Errorf("gguf: tensor %q: dims %v: the first is not a multiple of %s's block of %d", t.Name, t.Dims, tr.name, tr.block)
	}
	return t.Elements() / tr.block * tr.bytes, nil
}

// Tensor is one tensor to write: its shape and type, and Data, which must write exactly its bytes
// (little-endian). Data is called once, in order, while the file is written, so a tensor's
// contents never need to exist in memory all at once.
type Tensor struct {
	Name string
	Dims []uint64
	Type Type
	Data func(w io.Writer) error
}

func pad(n, align uint64) uint64 { return (n + align - 1) / align * align }

// Write writes a GGUF v3 file: header, metadata, tensor infos, then each tensor's data at an
// offset aligned to general.alignment (default 32). No padding follows the last tensor: the file
// ends exactly where its data ends, because ollama's create reads a blob as a sequence of GGUF
// files and takes any trailing bytes for the start of another (then fails on its magic). It
// returns the number of bytes written.
func Write(w io.Writer, kvs []KV, tensors []Tensor) (int64, error) {
	align := uint64(DefaultAlignment)
	seen := map[string]bool{}
	for _, kv := range kvs {
		if seen[kv.Key] {
			return 0, fmt.Errorf("gguf: duplicate key %q", kv.Key)
		}
		seen[kv.Key] = true
		if kv.Key == "general.alignment" {
			a, ok := kv.Value.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return 0, fmt.Errorf("gguf: general.alignment must be a uint32 power of two, got %T %v", kv.Value, kv.Value)
			}
			align = uint64(a)
		}
	}
	infos := make([]TensorInfo, len(tensors))
	sizes := make([]uint64, len(tensors))
	names := map[string]bool{}
	var off uint64
	for i, t := range tensors {
		if names[t.Name] {
			return 0, fmt.Errorf("gguf: duplicate tensor %q", t.Name)
		}
		names[t.Name] = true
		if len(t.Dims) == 0 || len(t.Dims) > 4 {
			return 0, fmt.Errorf("gguf: tensor %q: want 1 to 4 dims, got %v", t.Name, t.Dims)
		}
		infos[i] = TensorInfo{Name: t.Name, Dims: t.Dims, Type: t.Type, Offset: pad(off, align)}
		size, err := infos[i].Size()
		if err != nil {
			return 0, err
		}
		sizes[i] = size
		off = infos[i].Offset + size
	}

	cw := &countWriter{w: bufio.NewWriterSize(w, 1<<20)}
	e := encoder{w: cw}
	e.raw([]byte(Magic))
	e.u32(Version)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kvs)))
	for _, kv := range kvs {
		e.str(kv.Key)
		e.value(kv.Key, kv.Value)
	}
	for _, ti := range infos {
		e.str(ti.Name)
		e.u32(uint32(len(ti.Dims)))
		for _, d := range ti.Dims {
			e.u64(d)
		}
		e.u32(uint32(ti.Type))
		e.u64(ti.Offset)
	}
	if e.err != nil {
		return cw.n, e.err
	}
	data := pad(uint64(cw.n), align)
	for i, t := range tensors {
		if err := zeros(cw, data+infos[i].Offset-uint64(cw.n)); err != nil {
			return cw.n, err
		}
		start := cw.n
		lw := &limitWriter{w: cw, left: sizes[i]}
		if err := t.Data(lw); err != nil {
			return cw.n, fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
		}
		if got := uint64(cw.n - start); got != sizes[i] {
			return cw.n, fmt.Errorf("gguf: tensor %q: wrote %d bytes, want %d", t.Name, got, sizes[i])
		}
	}
	return cw.n, cw.w.(*bufio.Writer).Flush()
}

func zeros(w io.Writer, n uint64) error {
	_, err := w.Write(make([]byte, n))
	return err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// limitWriter refuses bytes past a tensor's size, so a Data function that writes too much fails
// at once instead of shifting every later tensor.
type limitWriter struct {
	w    io.Writer
	left uint64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if uint64(len(p)) > l.left {
		return 0, errors.New("more bytes than the tensor's size")
	}
	l.left -= uint64(len(p))
	return l.w.Write(p)
}

// encoder writes little-endian GGUF primitives and keeps the first error.
type encoder struct {
	w   io.Writer
	buf [8]byte
	err error
}

func (e *encoder) raw(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func (e *encoder) u8(v uint8) { e.buf[0] = v; e.raw(e.buf[:1]) }
func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.buf[:], v)
	e.raw(e.buf[:2])
}
func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:], v)
	e.raw(e.buf[:4])
}
func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:], v)
	e.raw(e.buf[:8])
}
func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.raw([]byte(s))
}

func (e *encoder) value(key string, v any) {
	switch v := v.(type) {
	case []string:
		e.array(typeString, len(v), func(i int) { e.str(v[i]) })
	case []bool:
		e.array(typeBool, len(v), func(i int) { e.scalar(v[i]) })
	case []uint8:
		e.array(typeUint8, len(v), func(i int) { e.u8(v[i]) })
	case []int8:
		e.array(typeInt8, len(v), func(i int) { e.u8(uint8(v[i])) })
	case []uint16:
		e.array(typeUint16, len(v), func(i int) { e.u16(v[i]) })
	case []int16:
		e.array(typeInt16, len(v), func(i int) { e.u16(uint16(v[i])) })
	case []uint32:
		e.array(typeUint32, len(v), func(i int) { e.u32(v[i]) })
	case []int32:
		e.array(typeInt32, len(v), func(i int) { e.u32(uint32(v[i])) })
	case []uint64:
		e.array(typeUint64, len(v), func(i int) { e.u64(v[i]) })
	case []int64:
		e.array(typeInt64, len(v), func(i int) { e.u64(uint64(v[i])) })
	case []float32:
		e.array(typeFloat32, len(v), func(i int) { e.u32(math.Float32bits(v[i])) })
	case []float64:
		e.array(typeFloat64, len(v), func(i int) { e.u64(math.Float64bits(v[i])) })
	default:
		t, ok := scalarType(v)
		if !ok {
			if e.err == nil {
				e.err = fmt.Errorf("gguf: key %q: unsupported value type %T", key, v)
			}
			return
		}
		e.u32(t)
		e.scalar(v)
	}
}

func (e *encoder) array(elem uint32, n int, each func(i int)) {
	e.u32(typeArray)
	e.u32(elem)
	e.u64(uint64(n))
	for i := 0; i < n && e.err == nil; i++ {
		each(i)
	}
}

func scalarType(v any) (uint32, bool) {
	switch v.(type) {
	case uint8:
		return typeUint8, true
	case int8:
		return typeInt8, true
	case uint16:
		return typeUint16, true
	case int16:
		return typeInt16, true
	case uint32:
		return typeUint32, true
	case int32:
		return typeInt32, true
	case uint64:
		return typeUint64, true
	case int64:
		return typeInt64, true
	case float32:
		return typeFloat32, true
	case float64:
		return typeFloat64, true
	case bool:
		return typeBool, true
	case string:
		return typeString, true
	}
	return 0, false
}

func (e *encoder) scalar(v any) {
	switch v := v.(type) {
	case uint8:
		e.u8(v)
	case int8:
		e.u8(uint8(v))
	case uint16:
		e.u16(v)
	case int16:
		e.u16(uint16(v))
	case uint32:
		e.u32(v)
	case int32:
		e.u32(uint32(v))
	case uint64:
		e.u64(v)
	case int64:
		e.u64(uint64(v))
	case float32:
		e.u32(math.Float32bits(v))
	case float64:
		e.u64(math.Float64bits(v))
	case bool:
		if v {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case string:
		e.str(v)
	}
}
