#!/usr/bin/env python3
"""gen_winograd_f4.py — prints the C expressions of the Winograd F(4x4, 3x3) transforms in
nn/ops/winograd.c (filter_transform4, filter_transform_adjoint4, input_row4, output_plane4,
output_adjoint_plane4, input_adjoint_plane4), from the matrices B^T, G, A^T (wincnn's, points 0,
+-1, +-2), dropping zero terms. The printed fragments were pasted into those functions; rerun and
compare after changing a matrix:  python3 scripts/gen_winograd_f4.py
"""
from fractions import Fraction as F
BT=[[4,0,-5,0,1,0],[0,-4,-4,1,1,0],[0,4,-4,-1,1,0],[0,-2,-1,2,1,0],[0,2,-1,-2,1,0],[0,4,0,-5,0,1]]
G=[[F(1,4),0,0],[F(-1,6),F(-1,6),F(-1,6)],[F(-1,6),F(1,6),F(-1,6)],[F(1,24),F(1,12),F(1,6)],[F(1,24),F(-1,12),F(1,6)],[0,0,1]]
AT=[[1,1,1,1,1,0],[0,1,-1,2,-2,0],[0,1,1,4,4,0],[0,1,-1,8,-8,1]]
def lit(c):
    c=F(c)
    if c.denominator==1: return "%d.0f"%c.numerator
    return "(%d.0f / %d.0f)"%(c.numerator,c.denominator)
def expr(coefs, names):
    terms=[]
    for c,n in zip(coefs,names):
        c=F(c)
        if c==0: continue
        if c==1: terms.append(("+",n))
        elif c==-1: terms.append(("-",n))
        elif c>0: terms.append(("+","%s * %s"%(lit(c),n)))
        else: terms.append(("-","%s * %s"%(lit(-c),n)))
    if not terms: return "0.0f"
    s=("-" if terms[0][0]=="-" else "")+terms[0][1]
    for sg,t in terms[1:]: s+=" %s %s"%(sg,t)
    return s
T=lambda M:[list(r) for r in zip(*M)]
out={}
# input: rows along y: q_i[j] = sum_k BT[i][k] p_k[j]
out['in_y']="\n".join("            q%d[j] = %s;"%(i,expr(BT[i],["p%d[j]"%k for k in range(6)])) for i in range(6))
# input along x: v[6i+j'] = sum_k BT[j'][k] q_i[4tx+k]; with a_k = q_i[4tx+k]
out['in_x']="\n".join("                v%d[tx] = %s;"%(jp,expr(BT[jp],["a%d"%k for k in range(6)])) for jp in range(6))
# output: r_a[j] = sum_i AT[a][i] m[6i+j]; y[a][b] = sum_j AT[b][j] r_a[j]
lines=[]
for a in range(4):
    for j in range(6):
        lines.append("            float r%d%d = %s;"%(a,j,expr(AT[a],["m%d[tx]"%(6*i+j) for i in range(6)])))
for a in range(4):
    for b in range(4):
        lines.append("            o%d[4 * tx + %d] = %s + bias;"%(a,b,expr(AT[b],["r%d%d"%(a,j) for j in range(6)])))
out['outp']="\n".join(lines)
# output adjoint: g[a][b]; h_a[j] = sum_b AT[b][j] g[a][b]; dM[i][j] = sum_a AT[a][i] h_a[j]
A=T(AT) # 6x4
lines=[]
for a in range(4):
    for j in range(6):
        lines.append("            float h%d%d = %s;"%(a,j,expr(A[j],["g%d%d"%(a,b) for b in range(4)])))
for i in range(6):
    for j in range(6):
        lines.append("            m%d[tx] = %s;"%(6*i+j,expr(A[i],["h%d%d"%(a,j) for a in range(4)])))
out['oadj']="\n".join(lines)
# input adjoint: q_r[j] = sum_i BT[i][r] v[6i+j]; dd[r][c] = sum_j BT[j][c] q_r[j]
B=T(BT)
lines=[]
for r in range(6):
    for j in range(6):
        lines.append("            float q%d%d = %s;"%(r,j,expr(B[r],["v%d[tx]"%(6*i+j) for i in range(6)])))
for r in range(6):
    for c in range(6):
        lines.append("            t%d[tx] = %s;"%(6*r+c,expr(B[c],["q%d%d"%(r,j) for j in range(6)])))
out['iadj']="\n".join(lines)
# filter: t[i][c] = sum_r G[i][r] g[r][c]; U[i][j] = sum_c G[j][c] t[i][c]
lines=[]
for i in range(6):
    for c in range(3):
        lines.append("        float t%d%d = %s;"%(i,c,expr(G[i],["g[%d]"%(3*r+c) for r in range(3)])))
for i in range(6):
    for j in range(6):
        lines.append("        U[%d * es + k] = %s;"%(6*i+j,expr(G[j],["t%d%d"%(i,c) for c in range(3)])))
out['filt']="\n".join(lines)
# filter adjoint: t[r][j] = sum_i G[i][r] u[6i+j]; dg[r][c] += sum_j G[j][c] t[r][j]
GT=T(G)
lines=[]
for r in range(3):
    for j in range(6):
        lines.append("        float t%d%d = %s;"%(r,j,expr(GT[r],["dU[%d * es + k]"%(6*i+j) for i in range(6)])))
for r in range(3):
    for c in range(3):
        lines.append("        g[%d] += %s;"%(3*r+c,expr(GT[c],["t%d%d"%(r,j) for j in range(6)])))
out['fadj']="\n".join(lines)
for k, v in out.items():
    print("== " + k)
    print(v)
