package vec

// The portable modular kernels: the specification of the fast paths and
// the implementation where there is none (non-amd64, or the purego build
// tag). m is the mask 2^bits - 1; dst and src have equal length.

func addMod32Generic(dst, src []uint32, m uint32) {
	src = src[:len(dst)] // bounds check elimination hint
	for i, v := range dst {
		dst[i] = (v + src[i]) & m
	}
}

func subMod32Generic(dst, src []uint32, m uint32) {
	src = src[:len(dst)]
	for i, v := range dst {
		dst[i] = (v - src[i]) & m
	}
}

func addMod64Generic(dst, src []uint64, m uint64) {
	src = src[:len(dst)]
	for i, v := range dst {
		dst[i] = (v + src[i]) & m
	}
}

func subMod64Generic(dst, src []uint64, m uint64) {
	src = src[:len(dst)]
	for i, v := range dst {
		dst[i] = (v - src[i]) & m
	}
}
