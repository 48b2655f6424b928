package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
)

// bytesTensor is a tensor whose data is the given bytes.
func bytesTensor(name string, typ Type, data []byte, dims ...uint64) Tensor {
	return Tensor{Name: name, Dims: dims, Type: typ, Data: func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}}
}

func seq(n int, from byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = from + byte(i)
	}
	return b
}

// TestRoundTrip writes metadata of every type and tensors whose sizes need padding, reads the
// header back and finds each tensor's bytes at DataOffset+Offset, the file ending with the last.
func TestRoundTrip(t *testing.T) {
	allKinds := []KV{
		{"s", "llama"}, {"u8", uint8(7)}, {"i8", int8(-7)}, {"u16", uint16(65535)}, {"i16", int16(-300)},
		{"u32", uint32(128000)}, {"i32", int32(-5)}, {"u64", uint64(1) << 40}, {"i64", int64(-1) << 40},
		{"f32", float32(1e-5)}, {"f64", 0.25}, {"t", true}, {"f", false}, {"empty", ""},
		{"as", []string{"Ġ Ġ", "# #", ""}}, {"ai32", []int32{1, 3, -1}}, {"au32", []uint32{9}},
		{"af32", []float32{0.5, -2}}, {"ab", []bool{true, false}}, {"au8", []uint8{1, 2}},
		{"ai8", []int8{-1}}, {"au16", []uint16{3}}, {"ai16", []int16{-3}}, {"au64", []uint64{1 << 50}},
		{"ai64", []int64{-1 << 50}}, {"af64", []float64{math.Pi}}, {"anone", []string{}},
	}
	f32 := seq(12, 1)  // 3 floats: 12 bytes, so the next tensor needs padding
	f16 := seq(8, 100) // [2,2] halves
	q8 := seq(34*2, 7) // Q8_0 [64]: two blocks of 34 bytes
	for _, tc := range []struct {
		name    string
		kvs     []KV
		tensors []Tensor
		data    [][]byte
		align   uint64
	}{
		{"no tensors", allKinds, nil, nil, 32},
		{"padding between", []KV{{"general.architecture", "llama"}},
			[]Tensor{bytesTensor("a", F32, f32, 3), bytesTensor("b", F16, f16, 2, 2), bytesTensor("c", Q8_0, q8, 64)},
			[][]byte{f32, f16, q8}, 32},
		{"alignment 64", append([]KV{{"general.alignment", uint32(64)}}, allKinds...),
			[]Tensor{bytesTensor("x", F16, f16, 4), bytesTensor("y", F32, f32, 1, 3, 1)},
			[][]byte{f16, f32}, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			n, err := Write(&buf, tc.kvs, tc.tensors)
			if err != nil || n != int64(buf.Len()) {
				t.Fatalf("Write = %d, %v; buffer holds %d", n, err, buf.Len())
			}
			file := buf.Bytes()
			f, err := Read(bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			if f.Version != 3 || f.Alignment != tc.align || !reflect.DeepEqual(f.KV, tc.kvs) {
				t.Errorf("read version %d alignment %d\nkv %#v\nwant %#v", f.Version, f.Alignment, f.KV, tc.kvs)
			}
			if f.DataOffset%int64(tc.align) != 0 || len(tc.tensors) > 0 && f.DataOffset > int64(len(file)) {
				t.Errorf("data offset %d (file %d bytes)", f.DataOffset, len(file))
			}
			if len(f.Tensors) != len(tc.tensors) {
				t.Fatalf("read %d tensors, wrote %d", len(f.Tensors), len(tc.tensors))
			}
			for i, ti := range f.Tensors {
				w := tc.tensors[i]
				if ti.Name != w.Name || !reflect.DeepEqual(ti.Dims, w.Dims) || ti.Type != w.Type || ti.Offset%tc.align != 0 {
					t.Errorf("tensor %d = %+v, wrote %s %v %s", i, ti, w.Name, w.Dims, w.Type)
				}
				at := f.DataOffset + int64(ti.Offset)
				if got := file[at : at+int64(len(tc.data[i]))]; !bytes.Equal(got, tc.data[i]) {
					t.Errorf("tensor %s data at %d = %v, want %v", ti.Name, at, got, tc.data[i])
				}
			}
			end, err := f.End()
			if err != nil || (len(tc.tensors) > 0 && end != int64(len(file))) {
				t.Errorf("End = %d, %v; the file has %d bytes", end, err, len(file))
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	short := Tensor{Name: "short", Dims: []uint64{4}, Type: F32, Data: func(w io.Writer) error {
		_, err := w.Write(make([]byte, 15))
		return err
	}}
	long := Tensor{Name: "long", Dims: []uint64{4}, Type: F32, Data: func(w io.Writer) error {
		_, err := w.Write(make([]byte, 17))
		return err
	}}
	failing := Tensor{Name: "failing", Dims: []uint64{4}, Type: F32, Data: func(io.Writer) error { return errors.New("boom") }}
	ok := bytesTensor("ok", F32, make([]byte, 16), 4)
	for _, tc := range []struct {
		name    string
		kvs     []KV
		tensors []Tensor
		want    string
	}{
		{"duplicate key", []KV{{"a", "x"}, {"a", "y"}}, nil, `duplicate key "a"`},
		{"duplicate tensor", nil, []Tensor{ok, ok}, `duplicate tensor "ok"`},
		{"alignment type", []KV{{"general.alignment", 32}}, nil, "general.alignment"},
		{"alignment power", []KV{{"general.alignment", uint32(24)}}, nil, "power of two"},
		{"value type", []KV{{"m", map[string]int{}}}, nil, `key "m": unsupported value type`},
		{"array type", []KV{{"m", []any{1}}}, nil, "unsupported value type"},
		{"no dims", nil, []Tensor{{Name: "z", Type: F32}}, "want 1 to 4 dims"},
		{"five dims", nil, []Tensor{{Name: "z", Dims: []uint64{1, 1, 1, 1, 1}, Type: F32}}, "want 1 to 4 dims"},
		{"partial block", nil, []Tensor{{Name: "q", Dims: []uint64{48}, Type: Q4_0}}, "multiple of Q4_0's block of 32"},
		{"unknown type", nil, []Tensor{{Name: "u", Dims: []uint64{1}, Type: 99}}, "unknown type 99"},
		{"too few bytes", nil, []Tensor{short}, "wrote 15 bytes, want 16"},
		{"too many bytes", nil, []Tensor{long}, "more bytes than the tensor's size"},
		{"data error", nil, []Tensor{ok, failing}, `tensor "failing": boom`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Write(io.Discard, tc.kvs, tc.tensors)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Write error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestReadErrors: a corrupt header is an error naming the problem, never a panic or a huge
// allocation; every truncation of a valid header fails.
func TestReadErrors(t *testing.T) {
	var buf bytes.Buffer
	if _, err := Write(&buf, []KV{{"general.architecture", "llama"}, {"a", []string{"x", "y"}}},
		[]Tensor{bytesTensor("t", F32, make([]byte, 8), 2)}); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	f, err := Read(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	// The header ends with the last tensor info, less than an alignment before the data.
	first := 0
	for first < len(good) {
		if _, err := Read(bytes.NewReader(good[:first])); err == nil {
			break
		}
		first++
	}
	if first <= int(f.DataOffset)-int(f.Alignment) || first > int(f.DataOffset) {
		t.Errorf("Read of the first %d bytes succeeded; the data starts at %d", first, f.DataOffset)
	}
	patch := func(off int, v uint64, size int) []byte {
		b := bytes.Clone(good)
		if size == 4 {
			binary.LittleEndian.PutUint32(b[off:], uint32(v))
		} else {
			binary.LittleEndian.PutUint64(b[off:], v)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"magic", append([]byte("GGML"), good[4:]...), "not a GGUF file"},
		{"version 1", patch(4, 1, 4), "version 1"},
		{"version 4", patch(4, 4, 4), "version 4"},
		{"tensor count", patch(8, 1<<40, 8), "implausible counts"},
		{"key length", patch(24, 1<<40, 8), "string of"},
		{"value type", patch(24+8+len("general.architecture"), 77, 4), "unknown value type 77"},
		{"empty", nil, "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Read error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// half decodes an IEEE half to float32, independently of f16.
func half(h uint16) float32 {
	sign := float32(1)
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, mant := int(h>>10&0x1f), float64(h&0x3ff)
	switch exp {
	case 0:
		return sign * float32(math.Ldexp(mant, -24))
	case 0x1f:
		if mant != 0 {
			return float32(math.NaN())
		}
		return sign * float32(math.Inf(1))
	}
	return sign * float32(math.Ldexp(1024+mant, exp-25))
}

func TestF16(t *testing.T) {
	for _, tc := range []struct {
		in   float32
		want uint16
	}{
		{0, 0x0000}, {float32(math.Copysign(0, -1)), 0x8000}, {1, 0x3c00}, {-2, 0xc000}, {0.1, 0x2e66},
		{65504, 0x7bff}, {65520, 0x7c00}, {1e9, 0x7c00}, {float32(math.Inf(-1)), 0xfc00},
		{float32(math.Ldexp(1, -14)), 0x0400}, {float32(math.Ldexp(1, -24)), 0x0001},
		{float32(math.Ldexp(1, -25)), 0x0000},         // tie: to even zero
		{float32(math.Ldexp(3, -25)), 0x0002},         // tie between 1 and 2 ulps: to even
		{float32(1 + math.Ldexp(1, -11)), 0x3c00},     // tie: to even 1.0
		{float32(1 + math.Ldexp(3, -11)), 0x3c02},     // tie: to even 1+2^-9
		{float32(math.Ldexp(1023, -24)), 0x03ff},      // the largest subnormal
		{float32(math.Ldexp(2047, -25)), 0x0400},      // rounds up into the normals
		{float32(math.Ldexp(1, -30)), 0x0000},         // underflow
		{float32(-math.Ldexp(1, -24) * 0.75), 0x8001}, // rounds to the smallest subnormal
	} {
		if got := f16(tc.in); got != tc.want {
			t.Errorf("f16(%g) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
	if h := f16(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("f16(NaN) = %#04x, not a NaN", h)
	}
	// Every finite half converts back to itself.
	for h := range 1 << 16 {
		if h&0x7c00 == 0x7c00 {
			continue
		}
		if got := f16(half(uint16(h))); got != uint16(h) {
			t.Fatalf("f16(half(%#04x) = %g) = %#04x", h, half(uint16(h)), got)
		}
	}
}

func TestTensorSize(t *testing.T) {
	for _, tc := range []struct {
		ti   TensorInfo
		want uint64
	}{
		{TensorInfo{Dims: []uint64{64, 128256}, Type: F16}, 64 * 128256 * 2},
		{TensorInfo{Dims: []uint64{64}, Type: F32}, 256},
		{TensorInfo{Dims: []uint64{4096, 4096}, Type: Q4_0}, 4096 * 4096 / 32 * 18},
		{TensorInfo{Dims: []uint64{4096, 14336}, Type: Q4_K}, 4096 * 14336 / 256 * 144},
		{TensorInfo{Dims: []uint64{256, 2}, Type: Q6_K}, 2 * 210},
		{TensorInfo{Dims: []uint64{32, 1, 1, 3}, Type: BF16}, 32 * 3 * 2},
	} {
		if got, err := tc.ti.Size(); err != nil || got != tc.want {
			t.Errorf("%v %v: Size = %d, %v; want %d", tc.ti.Type, tc.ti.Dims, got, err, tc.want)
		}
	}
}
