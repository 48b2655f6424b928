package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
)

// File is a GGUF file's header: metadata in file order and tensor infos. DataOffset is where
// the data section starts (the first tensor's offset 0).
type File struct {
	Version    uint32
	KV         []KV
	Tensors    []TensorInfo
	Alignment  uint64
	DataOffset int64
}

// Limits that turn a corrupt length into an error rather than a huge allocation.
const (
	maxString = 64 << 20
	maxArray  = 1 << 28
	maxCount  = 1 << 24
)

// ReadFile reads the header of the GGUF file at path (not its tensor data).
func ReadFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	defer f.Close()
	g, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return g, nil
}

// Read reads a GGUF v2 or v3 header from r: metadata and tensor infos, stopping where the data
// section begins.
func Read(r io.Reader) (*File, error) {
	d := &decoder{r: bufio.NewReaderSize(r, 1<<16)}
	var magic [4]byte
	d.full(magic[:])
	if d.err == nil && string(magic[:]) != Magic {
		return nil, fmt.Errorf("gguf: not a GGUF file (magic %q)", magic[:])
	}
	f := &File{Version: d.u32(), Alignment: DefaultAlignment}
	if d.err == nil && f.Version != 2 && f.Version != 3 {
		return nil, fmt.Errorf("gguf: version %d, want 2 or 3", f.Version)
	}
	nt, nkv := d.u64(), d.u64()
	if d.err == nil && (nt > maxCount || nkv > maxCount) {
		return nil, fmt.Errorf("gguf: implausible counts: %d tensors, %d keys", nt, nkv)
	}
	for i := uint64(0); i < nkv && d.err == nil; i++ {
		k := d.str()
		v := d.value(d.u32())
		if d.err != nil {
			return nil, fmt.Errorf("gguf: key %d %q: %w", i, clip(k), d.err)
		}
		if _, dup := f.Get(k); dup {
			return nil, fmt.Errorf("gguf: duplicate key %q", clip(k))
		}
		f.KV = append(f.KV, KV{k, v})
		if k == "general.alignment" {
			a, ok := v.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return nil, fmt.Errorf("gguf: general.alignment must be a uint32 power of two, got %T %s", v, clip(fmt.Sprint(v)))
			}
			f.Alignment = uint64(a)
		}
	}
	for i := uint64(0); i < nt && d.err == nil; i++ {
		t := TensorInfo{Name: d.str()}
		nd := d.u32()
		if d.err == nil && (nd == 0 || nd > 4) {
			return nil, fmt.Errorf("gguf: tensor %q: %d dims, want 1 to 4", clip(t.Name), nd)
		}
		n := uint64(1)
		for range nd {
			dim := d.u64()
			hi, lo := bits.Mul64(n, dim)
			if hi != 0 {
				return nil, fmt.Errorf("gguf: tensor %q: dims overflow", clip(t.Name))
			}
			n = lo
			t.Dims = append(t.Dims, dim)
		}
		t.Type, t.Offset = Type(d.u32()), d.u64()
		if d.err == nil && t.Offset%f.Alignment != 0 {
			return nil, fmt.Errorf("gguf: tensor %q: offset %d is not aligned to %d", clip(t.Name), t.Offset, f.Alignment)
		}
		f.Tensors = append(f.Tensors, t)
	}
	if d.err != nil {
		return nil, fmt.Errorf("gguf: %w", d.err)
	}
	f.DataOffset = int64(pad(d.n, f.Alignment))
	return f, nil
}

// clip shortens a key, tensor name or value for an error message: a corrupt length can make one
// megabytes long (FuzzRead).
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Get returns the value of key.
func (f *File) Get(key string) (any, bool) {
	for _, kv := range f.KV {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// String returns key's value if it is a string.
func (f *File) String(key string) (string, bool) {
	v, _ := f.Get(key)
	s, ok := v.(string)
	return s, ok
}

// Uint returns key's value if it is a non-negative integer of any width. A per-layer array (some
// models give feed_forward_length or head counts per layer) yields its largest element.
func (f *File) Uint(key string) (uint64, bool) {
	v, ok := f.Get(key)
	if !ok {
		return 0, false
	}
	return toUint(v)
}

func toUint(v any) (uint64, bool) {
	switch v := v.(type) {
	case uint8:
		return uint64(v), true
	case uint16:
		return uint64(v), true
	case uint32:
		return uint64(v), true
	case uint64:
		return v, true
	case int8:
		return uint64(v), v >= 0
	case int16:
		return uint64(v), v >= 0
	case int32:
		return uint64(v), v >= 0
	case int64:
		return uint64(v), v >= 0
	case []uint32:
		return maxOf(v)
	case []int32:
		return maxOf(v)
	case []uint64:
		return maxOf(v)
	case []int64:
		return maxOf(v)
	}
	return 0, false
}

func maxOf[T uint32 | int32 | uint64 | int64](s []T) (uint64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	m := s[0]
	for _, x := range s[1:] {
		m = max(m, x)
	}
	return uint64(m), m >= 0
}

// Model is the shape of a transformer as its GGUF metadata states it; zero means absent.
type Model struct {
	Architecture      string
	Name              string
	ContextLength     uint64
	BlockCount        uint64
	EmbeddingLength   uint64
	FeedForwardLength uint64
	HeadCount         uint64
	HeadCountKV       uint64
	VocabSize         uint64
}

// Model reads the architecture and its hyperparameters (the keys are prefixed with the
// architecture's name). The vocabulary size is <arch>.vocab_size, or the number of tokens.
func (f *File) Model() (Model, error) {
	arch, ok := f.String("general.architecture")
	if !ok {
		return Model{}, fmt.Errorf("gguf: no general.architecture")
	}
	m := Model{Architecture: arch}
	m.Name, _ = f.String("general.name")
	for _, u := range []struct {
		key string
		dst *uint64
	}{
		{"context_length", &m.ContextLength}, {"block_count", &m.BlockCount},
		{"embedding_length", &m.EmbeddingLength}, {"feed_forward_length", &m.FeedForwardLength},
		{"attention.head_count", &m.HeadCount}, {"attention.head_count_kv", &m.HeadCountKV},
		{"vocab_size", &m.VocabSize},
	} {
		*u.dst, _ = f.Uint(arch + "." + u.key)
	}
	if m.VocabSize == 0 {
		if toks, ok := f.Get("tokenizer.ggml.tokens"); ok {
			if s, ok := toks.([]string); ok {
				m.VocabSize = uint64(len(s))
			}
		}
	}
	return m, nil
}

// End is the offset just past the last byte of tensor data (DataOffset when there are no
// tensors); a file Write made with tensors is exactly this long.
func (f *File) End() (int64, error) {
	end := uint64(f.DataOffset)
	for _, t := range f.Tensors {
		size, err := t.Size()
		if err != nil {
			return 0, err
		}
		end = max(end, uint64(f.DataOffset)+t.Offset+size)
	}
	return int64(end), nil
}

// decoder reads little-endian GGUF primitives, counts bytes and keeps the first error.
type decoder struct {
	r   *bufio.Reader
	n   uint64
	buf [8]byte
	err error
}

func (d *decoder) full(b []byte) {
	if d.err != nil {
		clear(b)
		return
	}
	n, err := io.ReadFull(d.r, b)
	d.n += uint64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	d.err = err
}

func (d *decoder) u8() uint8 { d.full(d.buf[:1]); return d.buf[0] }
func (d *decoder) u16() uint16 {
	d.full(d.buf[:2])
	return binary.LittleEndian.Uint16(d.buf[:])
}
func (d *decoder) u32() uint32 {
	d.full(d.buf[:4])
	return binary.LittleEndian.Uint32(d.buf[:])
}
func (d *decoder) u64() uint64 {
	d.full(d.buf[:8])
	return binary.LittleEndian.Uint64(d.buf[:])
}

func (d *decoder) str() string {
	n := d.u64()
	if d.err != nil {
		return ""
	}
	if n > maxString {
		d.err = fmt.Errorf("string of %d bytes", n)
		return ""
	}
	b := make([]byte, n)
	d.full(b)
	return string(b)
}

func (d *decoder) value(t uint32) any {
	switch t {
	case typeUint8:
		return d.u8()
	case typeInt8:
		return int8(d.u8())
	case typeUint16:
		return d.u16()
	case typeInt16:
		return int16(d.u16())
	case typeUint32:
		return d.u32()
	case typeInt32:
		return int32(d.u32())
	case typeUint64:
		return d.u64()
	case typeInt64:
		return int64(d.u64())
	case typeFloat32:
		return math.Float32frombits(d.u32())
	case typeFloat64:
		return math.Float64frombits(d.u64())
	case typeBool:
		b := d.u8()
		if d.err == nil && b > 1 {
			d.err = fmt.Errorf("bool byte %d", b)
		}
		return b == 1
	case typeString:
		return d.str()
	case typeArray:
		return d.array()
	}
	if d.err == nil {
		d.err = fmt.Errorf("unknown value type %d", t)
	}
	return nil
}

func (d *decoder) array() any {
	elem, n := d.u32(), d.u64()
	if d.err != nil {
		return nil
	}
	if n > maxArray {
		d.err = fmt.Errorf("array of %d elements", n)
		return nil
	}
	switch elem {
	case typeString:
		return readSlice(d, n, d.str)
	case typeBool:
		return readSlice(d, n, func() bool { return d.value(typeBool).(bool) })
	case typeUint8:
		return readSlice(d, n, d.u8)
	case typeInt8:
		return readSlice(d, n, func() int8 { return int8(d.u8()) })
	case typeUint16:
		return readSlice(d, n, d.u16)
	case typeInt16:
		return readSlice(d, n, func() int16 { return int16(d.u16()) })
	case typeUint32:
		return readSlice(d, n, d.u32)
	case typeInt32:
		return readSlice(d, n, func() int32 { return int32(d.u32()) })
	case typeUint64:
		return readSlice(d, n, d.u64)
	case typeInt64:
		return readSlice(d, n, func() int64 { return int64(d.u64()) })
	case typeFloat32:
		return readSlice(d, n, func() float32 { return math.Float32frombits(d.u32()) })
	case typeFloat64:
		return readSlice(d, n, func() float64 { return math.Float64frombits(d.u64()) })
	}
	d.err = fmt.Errorf("unsupported array element type %d", elem)
	return nil
}

// readSlice reads n elements, growing the slice as it goes so a corrupt count fails at the end of
// the input instead of allocating up front.
func readSlice[T any](d *decoder, n uint64, next func() T) []T {
	s := make([]T, 0, min(n, 1<<16))
	for i := uint64(0); i < n && d.err == nil; i++ {
		s = append(s, next())
	}
	return s
}
