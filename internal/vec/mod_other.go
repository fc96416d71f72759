//go:build !amd64 || purego

package vec

func addMod32(dst, src []uint32, m uint32) { addMod32Generic(dst, src, m) }
func subMod32(dst, src []uint32, m uint32) { subMod32Generic(dst, src, m) }
func addMod64(dst, src []uint64, m uint64) { addMod64Generic(dst, src, m) }
func subMod64(dst, src []uint64, m uint64) { subMod64Generic(dst, src, m) }
