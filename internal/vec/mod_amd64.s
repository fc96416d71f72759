//go:build amd64 && !purego

#include "textflag.h"

// SSE2 (baseline on amd64) kernels for modular add/sub. Each loop handles
// 64 bytes per iteration in four 128-bit lanes; packed adds wrap modulo
// 2^32 (or 2^64) per lane, so carries never cross elements, and the
// result is then masked to bits bits. A scalar loop finishes the tail.

// func addMod32SSE2(dst, src []uint32, m uint32)
TEXT ·addMod32SSE2(SB), NOSPLIT, $0-52
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ src_base+24(FP), SI
	MOVL m+48(FP), AX
	MOVL AX, X7
	PSHUFD $0, X7, X7
	MOVQ CX, BX
	SHRQ $4, BX
	JZ   add32tail

add32loop:
	MOVOU (DI), X0
	MOVOU 16(DI), X1
	MOVOU 32(DI), X2
	MOVOU 48(DI), X3
	MOVOU (SI), X4
	MOVOU 16(SI), X5
	MOVOU 32(SI), X6
	MOVOU 48(SI), X8
	PADDL X4, X0
	PADDL X5, X1
	PADDL X6, X2
	PADDL X8, X3
	PAND  X7, X0
	PAND  X7, X1
	PAND  X7, X2
	PAND  X7, X3
	MOVOU X0, (DI)
	MOVOU X1, 16(DI)
	MOVOU X2, 32(DI)
	MOVOU X3, 48(DI)
	ADDQ  $64, DI
	ADDQ  $64, SI
	DECQ  BX
	JNZ   add32loop

add32tail:
	ANDQ $15, CX
	JZ   add32done

add32tailloop:
	MOVL (DI), DX
	ADDL (SI), DX
	ANDL AX, DX
	MOVL DX, (DI)
	ADDQ $4, DI
	ADDQ $4, SI
	DECQ CX
	JNZ  add32tailloop

add32done:
	RET

// func subMod32SSE2(dst, src []uint32, m uint32)
TEXT ·subMod32SSE2(SB), NOSPLIT, $0-52
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ src_base+24(FP), SI
	MOVL m+48(FP), AX
	MOVL AX, X7
	PSHUFD $0, X7, X7
	MOVQ CX, BX
	SHRQ $4, BX
	JZ   sub32tail

sub32loop:
	MOVOU (DI), X0
	MOVOU 16(DI), X1
	MOVOU 32(DI), X2
	MOVOU 48(DI), X3
	MOVOU (SI), X4
	MOVOU 16(SI), X5
	MOVOU 32(SI), X6
	MOVOU 48(SI), X8
	PSUBL X4, X0
	PSUBL X5, X1
	PSUBL X6, X2
	PSUBL X8, X3
	PAND  X7, X0
	PAND  X7, X1
	PAND  X7, X2
	PAND  X7, X3
	MOVOU X0, (DI)
	MOVOU X1, 16(DI)
	MOVOU X2, 32(DI)
	MOVOU X3, 48(DI)
	ADDQ  $64, DI
	ADDQ  $64, SI
	DECQ  BX
	JNZ   sub32loop

sub32tail:
	ANDQ $15, CX
	JZ   sub32done

sub32tailloop:
	MOVL (DI), DX
	SUBL (SI), DX
	ANDL AX, DX
	MOVL DX, (DI)
	ADDQ $4, DI
	ADDQ $4, SI
	DECQ CX
	JNZ  sub32tailloop

sub32done:
	RET

// func addMod64SSE2(dst, src []uint64, m uint64)
TEXT ·addMod64SSE2(SB), NOSPLIT, $0-56
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ src_base+24(FP), SI
	MOVQ m+48(FP), AX
	MOVQ AX, X7
	PUNPCKLQDQ X7, X7
	MOVQ CX, BX
	SHRQ $3, BX
	JZ   add64tail

add64loop:
	MOVOU (DI), X0
	MOVOU 16(DI), X1
	MOVOU 32(DI), X2
	MOVOU 48(DI), X3
	MOVOU (SI), X4
	MOVOU 16(SI), X5
	MOVOU 32(SI), X6
	MOVOU 48(SI), X8
	PADDQ X4, X0
	PADDQ X5, X1
	PADDQ X6, X2
	PADDQ X8, X3
	PAND  X7, X0
	PAND  X7, X1
	PAND  X7, X2
	PAND  X7, X3
	MOVOU X0, (DI)
	MOVOU X1, 16(DI)
	MOVOU X2, 32(DI)
	MOVOU X3, 48(DI)
	ADDQ  $64, DI
	ADDQ  $64, SI
	DECQ  BX
	JNZ   add64loop

add64tail:
	ANDQ $7, CX
	JZ   add64done

add64tailloop:
	MOVQ (DI), DX
	ADDQ (SI), DX
	ANDQ AX, DX
	MOVQ DX, (DI)
	ADDQ $8, DI
	ADDQ $8, SI
	DECQ CX
	JNZ  add64tailloop

add64done:
	RET

// func subMod64SSE2(dst, src []uint64, m uint64)
TEXT ·subMod64SSE2(SB), NOSPLIT, $0-56
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ src_base+24(FP), SI
	MOVQ m+48(FP), AX
	MOVQ AX, X7
	PUNPCKLQDQ X7, X7
	MOVQ CX, BX
	SHRQ $3, BX
	JZ   sub64tail

sub64loop:
	MOVOU (DI), X0
	MOVOU 16(DI), X1
	MOVOU 32(DI), X2
	MOVOU 48(DI), X3
	MOVOU (SI), X4
	MOVOU 16(SI), X5
	MOVOU 32(SI), X6
	MOVOU 48(SI), X8
	PSUBQ X4, X0
	PSUBQ X5, X1
	PSUBQ X6, X2
	PSUBQ X8, X3
	PAND  X7, X0
	PAND  X7, X1
	PAND  X7, X2
	PAND  X7, X3
	MOVOU X0, (DI)
	MOVOU X1, 16(DI)
	MOVOU X2, 32(DI)
	MOVOU X3, 48(DI)
	ADDQ  $64, DI
	ADDQ  $64, SI
	DECQ  BX
	JNZ   sub64loop

sub64tail:
	ANDQ $7, CX
	JZ   sub64done

sub64tailloop:
	MOVQ (DI), DX
	SUBQ (SI), DX
	ANDQ AX, DX
	MOVQ DX, (DI)
	ADDQ $8, DI
	ADDQ $8, SI
	DECQ CX
	JNZ  sub64tailloop

sub64done:
	RET
