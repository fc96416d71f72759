//go:build amd64 && !purego

#include "textflag.h"

// AVX2 kernels for modular add/sub: 128 bytes per iteration in four
// 256-bit lanes. The caller passes lengths that are a multiple of the
// block (32 uint32s or 16 uint64s) and checks for AVX2 first.

// func addMod32AVX2(dst, src []uint32, m uint32)
TEXT ·addMod32AVX2(SB), NOSPLIT, $0-52
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), BX
	MOVQ src_base+24(FP), SI
	MOVL m+48(FP), AX
	MOVL AX, X7
	VPBROADCASTD X7, Y7
	SHRQ $5, BX
	JZ   add32done

add32loop:
	VMOVDQU (DI), Y0
	VMOVDQU 32(DI), Y1
	VMOVDQU 64(DI), Y2
	VMOVDQU 96(DI), Y3
	VPADDD  (SI), Y0, Y0
	VPADDD  32(SI), Y1, Y1
	VPADDD  64(SI), Y2, Y2
	VPADDD  96(SI), Y3, Y3
	VPAND   Y7, Y0, Y0
	VPAND   Y7, Y1, Y1
	VPAND   Y7, Y2, Y2
	VPAND   Y7, Y3, Y3
	VMOVDQU Y0, (DI)
	VMOVDQU Y1, 32(DI)
	VMOVDQU Y2, 64(DI)
	VMOVDQU Y3, 96(DI)
	ADDQ    $128, DI
	ADDQ    $128, SI
	DECQ    BX
	JNZ     add32loop

add32done:
	VZEROUPPER
	RET

// func subMod32AVX2(dst, src []uint32, m uint32)
TEXT ·subMod32AVX2(SB), NOSPLIT, $0-52
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), BX
	MOVQ src_base+24(FP), SI
	MOVL m+48(FP), AX
	MOVL AX, X7
	VPBROADCASTD X7, Y7
	SHRQ $5, BX
	JZ   sub32done

sub32loop:
	VMOVDQU (DI), Y0
	VMOVDQU 32(DI), Y1
	VMOVDQU 64(DI), Y2
	VMOVDQU 96(DI), Y3
	VPSUBD  (SI), Y0, Y0
	VPSUBD  32(SI), Y1, Y1
	VPSUBD  64(SI), Y2, Y2
	VPSUBD  96(SI), Y3, Y3
	VPAND   Y7, Y0, Y0
	VPAND   Y7, Y1, Y1
	VPAND   Y7, Y2, Y2
	VPAND   Y7, Y3, Y3
	VMOVDQU Y0, (DI)
	VMOVDQU Y1, 32(DI)
	VMOVDQU Y2, 64(DI)
	VMOVDQU Y3, 96(DI)
	ADDQ    $128, DI
	ADDQ    $128, SI
	DECQ    BX
	JNZ     sub32loop

sub32done:
	VZEROUPPER
	RET

// func addMod64AVX2(dst, src []uint64, m uint64)
TEXT ·addMod64AVX2(SB), NOSPLIT, $0-56
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), BX
	MOVQ src_base+24(FP), SI
	MOVQ m+48(FP), AX
	MOVQ AX, X7
	VPBROADCASTQ X7, Y7
	SHRQ $4, BX
	JZ   add64done

add64loop:
	VMOVDQU (DI), Y0
	VMOVDQU 32(DI), Y1
	VMOVDQU 64(DI), Y2
	VMOVDQU 96(DI), Y3
	VPADDQ  (SI), Y0, Y0
	VPADDQ  32(SI), Y1, Y1
	VPADDQ  64(SI), Y2, Y2
	VPADDQ  96(SI), Y3, Y3
	VPAND   Y7, Y0, Y0
	VPAND   Y7, Y1, Y1
	VPAND   Y7, Y2, Y2
	VPAND   Y7, Y3, Y3
	VMOVDQU Y0, (DI)
	VMOVDQU Y1, 32(DI)
	VMOVDQU Y2, 64(DI)
	VMOVDQU Y3, 96(DI)
	ADDQ    $128, DI
	ADDQ    $128, SI
	DECQ    BX
	JNZ     add64loop

add64done:
	VZEROUPPER
	RET

// func subMod64AVX2(dst, src []uint64, m uint64)
TEXT ·subMod64AVX2(SB), NOSPLIT, $0-56
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), BX
	MOVQ src_base+24(FP), SI
	MOVQ m+48(FP), AX
	MOVQ AX, X7
	VPBROADCASTQ X7, Y7
	SHRQ $4, BX
	JZ   sub64done

sub64loop:
	VMOVDQU (DI), Y0
	VMOVDQU 32(DI), Y1
	VMOVDQU 64(DI), Y2
	VMOVDQU 96(DI), Y3
	VPSUBQ  (SI), Y0, Y0
	VPSUBQ  32(SI), Y1, Y1
	VPSUBQ  64(SI), Y2, Y2
	VPSUBQ  96(SI), Y3, Y3
	VPAND   Y7, Y0, Y0
	VPAND   Y7, Y1, Y1
	VPAND   Y7, Y2, Y2
	VPAND   Y7, Y3, Y3
	VMOVDQU Y0, (DI)
	VMOVDQU Y1, 32(DI)
	VMOVDQU Y2, 64(DI)
	VMOVDQU Y3, 96(DI)
	ADDQ    $128, DI
	ADDQ    $128, SI
	DECQ    BX
	JNZ     sub64loop

sub64done:
	VZEROUPPER
	RET
