/* DIN data plane: one layer of a partitioned, quantized MLP per pass.
 *
 * MlpLayer is instantiated as MyIngress.mlp (P4Info names
 * MyIngress.mlp.<name>). It computes layer meta.mlp.layer of model
 * (hdr.din.model_id, hdr.din.model_version) over the 16 values of
 * hdr.din_vec and leaves the 16 outputs in meta.mlp.y0..y15; the caller
 * decides whether they replace the header's values.
 *
 * Integer contract (p4src/README.md gives the numpy reference):
 *   x_i    uint8 (hdr.din_vec.v<i>), W[j][i] int8, bias_j int32;
 *   acc_j  = bias_j + sum over i of x_i * W[j][i], in bit<32> two's
 *            complement (wrapping addition, read as int32);
 *   y_j    = 0 if acc_j < 0, else min(255, acc_j >> shift).
 * The entry of mlp_in_<i> for x_i = v holds p_j = v * W[j][i] (as bit<32>)
 * for all 16 outputs; a miss adds nothing, so v = 0 needs no entry.
 */
#ifndef _DIN_MLP_P4_
#define _DIN_MLP_P4_

control MlpLayer(inout headers_t hdr, inout metadata_t meta,
                 inout standard_metadata_t sm) {
    action set_bias(bit<8> shift,
                    bit<32> b0, bit<32> b1, bit<32> b2, bit<32> b3,
                    bit<32> b4, bit<32> b5, bit<32> b6, bit<32> b7,
                    bit<32> b8, bit<32> b9, bit<32> b10, bit<32> b11,
                    bit<32> b12, bit<32> b13, bit<32> b14, bit<32> b15) {
        meta.mlp.shift = shift;
        meta.mlp.acc0 = b0;
        meta.mlp.acc1 = b1;
        meta.mlp.acc2 = b2;
        meta.mlp.acc3 = b3;
        meta.mlp.acc4 = b4;
        meta.mlp.acc5 = b5;
        meta.mlp.acc6 = b6;
        meta.mlp.acc7 = b7;
        meta.mlp.acc8 = b8;
        meta.mlp.acc9 = b9;
        meta.mlp.acc10 = b10;
        meta.mlp.acc11 = b11;
        meta.mlp.acc12 = b12;
        meta.mlp.acc13 = b13;
        meta.mlp.acc14 = b14;
        meta.mlp.acc15 = b15;
    }
    action layer_missing() {
        meta.mlp.run = 0;
    }
    /* Bias and requantization shift of a layer; a miss means the layer is
     * not installed here and nothing is computed. */
    table mlp_bias {
        key = {
            hdr.din.model_id      : exact;
            hdr.din.model_version : exact;
            meta.mlp.layer        : exact;
        }
        actions = { set_bias; layer_missing; }
        default_action = layer_missing();
        size = 256;
    }

    /* Partial products of one input value for the 16 outputs. */
    action accumulate(bit<32> p0, bit<32> p1, bit<32> p2, bit<32> p3,
                      bit<32> p4, bit<32> p5, bit<32> p6, bit<32> p7,
                      bit<32> p8, bit<32> p9, bit<32> p10, bit<32> p11,
                      bit<32> p12, bit<32> p13, bit<32> p14, bit<32> p15) {
        meta.mlp.acc0 = meta.mlp.acc0 + p0;
        meta.mlp.acc1 = meta.mlp.acc1 + p1;
        meta.mlp.acc2 = meta.mlp.acc2 + p2;
        meta.mlp.acc3 = meta.mlp.acc3 + p3;
        meta.mlp.acc4 = meta.mlp.acc4 + p4;
        meta.mlp.acc5 = meta.mlp.acc5 + p5;
        meta.mlp.acc6 = meta.mlp.acc6 + p6;
        meta.mlp.acc7 = meta.mlp.acc7 + p7;
        meta.mlp.acc8 = meta.mlp.acc8 + p8;
        meta.mlp.acc9 = meta.mlp.acc9 + p9;
        meta.mlp.acc10 = meta.mlp.acc10 + p10;
        meta.mlp.acc11 = meta.mlp.acc11 + p11;
        meta.mlp.acc12 = meta.mlp.acc12 + p12;
        meta.mlp.acc13 = meta.mlp.acc13 + p13;
        meta.mlp.acc14 = meta.mlp.acc14 + p14;
        meta.mlp.acc15 = meta.mlp.acc15 + p15;
    }

    table mlp_in_0 {
        key = {
            hdr.din.model_id      : exact;
            hdr.din.model_version : exact;
            meta.mlp.layer        : exact;
            hdr.din_vec.v0 : exact;
        }
        actions = { accumulate; NoAction; }
        default_action = NoAction();
        size = 4096;
    }

    table mlp_in_1 {
        key = {
            hdr.din.model_id      : exact;
            hdr.din.model_version : exact;
            meta.mlp.layer        : exact;
            hdr.din_vec.v1 : exact;
        }
        actions = { accumulate; NoAction; }
        default_action = NoAction();
        size = 4096;
    }

    table mlp_in_2 {
        key = {
            hdr.din.model_id      : exact;
            hdr.din.model_version : exact;
            meta.mlp.layer        : exact;
            hdr.din_vec.v2 : exact;
        }
        actions = { accumulate; NoAction; }
        default_action = NoAction();
        size = 4096;
    }

    table mlp_in_3 {
        key = {
            hdr.din.model_id      : exact;
            hdr.din.model_version : exact;
            meta.mlp.layer        : exact;
            hdr.din_vec.v3 : exact;
        }
        actions = { accumulate; NoAction; }
        default_action = NoAction();
        size = 4096;
    }

    table mlp_in_4 {
        key = {
            hdr.din.model_id      : exact;
            hdr.din.model_version : exact;
            meta.mlp.layer        : exact;
            hdr.din_vec.v4 : exact;
        }
        actions = { accumulate; NoAction; }
        default_action = NoAction();
        size = 4096;
    }

    table mlp_in_5 {
        key = {
            hdr.din.model_id      : exact;
            hdr.din.model_version : exact;
            meta.mlp.layer        : exact;
            hdr.din_vec.v5 : exact;
        }
        actions = { accumulate; NoAction; }
        default_action = NoAction();
        size = 4096;
    }

    table mlp_in_6 {
        key = {
            hdr.din.model_id      : exact;
            hdr.din.model_version : exact;
            meta.mlp.layer        : exact;
            hdr.din_vec.v6 : exact;
        }
        actions = { accumulate; NoAction; }
        default_action = NoAction();
        size = 4096;
    }

    table mlp_in_7 {
        key = {
            hdr.din.model_id      : exact;
            hdr.din.model_version : exact;
            meta.mlp.layer        : exact;
            hdr.din_vec.v7 : exact;
        }
        actions = { accumulate; NoAction; }
        default_action = NoAction();
        size = 4096;
    }

    table mlp_in_8 {
        key = {
            hdr.din.model_id      : exact;
            hdr.din.model_version : exact;
            meta.mlp.layer        : exact;
            hdr.din_vec.v8 : exact;
        }
        actions = { accumulate; NoAction; }
        default_action = NoAction();
        size = 4096;
    }

    table mlp_in_9 {
        key = {
            hdr.din.model_id      : exact;
            hdr.din.model_version : exact;
            meta.mlp.layer        : exact;
            hdr.din_vec.v9 : exact;
        }
        actions = { accumulate; NoAction; }
        default_action = NoAction();
        size = 4096;
    }

    table mlp_in_10 {
        key = {
            hdr.din.model_id      : exact;
            hdr.din.model_version : exact;
            meta.mlp.layer        : exact;
            hdr.din_vec.v10 : exact;
        }
        actions = { accumulate; NoAction; }
        default_action = NoAction();
        size = 4096;
    }

    table mlp_in_11 {
        key = {
            hdr.din.model_id      : exact;
            hdr.din.model_version : exact;
            meta.mlp.layer        : exact;
            hdr.din_vec.v11 : exact;
        }
        actions = { accumulate; NoAction; }
        default_action = NoAction();
        size = 4096;
    }

    table mlp_in_12 {
        key = {
            hdr.din.model_id      : exact;
            hdr.din.model_version : exact;
            meta.mlp.layer        : exact;
            hdr.din_vec.v12 : exact;
        }
        actions = { accumulate; NoAction; }
        default_action = NoAction();
        size = 4096;
    }

    table mlp_in_13 {
        key = {
            hdr.din.model_id      : exact;
            hdr.din.model_version : exact;
            meta.mlp.layer        : exact;
            hdr.din_vec.v13 : exact;
        }
        actions = { accumulate; NoAction; }
        default_action = NoAction();
        size = 4096;
    }

    table mlp_in_14 {
        key = {
            hdr.din.model_id      : exact;
            hdr.din.model_version : exact;
            meta.mlp.layer        : exact;
            hdr.din_vec.v14 : exact;
        }
        actions = { accumulate; NoAction; }
        default_action = NoAction();
        size = 4096;
    }

    table mlp_in_15 {
        key = {
            hdr.din.model_id      : exact;
            hdr.din.model_version : exact;
            meta.mlp.layer        : exact;
            hdr.din_vec.v15 : exact;
        }
        actions = { accumulate; NoAction; }
        default_action = NoAction();
        size = 4096;
    }

    apply {
        mlp_bias.apply();
        if (meta.mlp.run == 1) {
            mlp_in_0.apply();
            mlp_in_1.apply();
            mlp_in_2.apply();
            mlp_in_3.apply();
            mlp_in_4.apply();
            mlp_in_5.apply();
            mlp_in_6.apply();
            mlp_in_7.apply();
            mlp_in_8.apply();
            mlp_in_9.apply();
            mlp_in_10.apply();
            mlp_in_11.apply();
            mlp_in_12.apply();
            mlp_in_13.apply();
            mlp_in_14.apply();
            mlp_in_15.apply();

            bit<32> q;
            if (meta.mlp.acc0[31:31] == 1) {
                meta.mlp.y0 = 0;
            } else {
                q = meta.mlp.acc0 >> meta.mlp.shift;
                meta.mlp.y0 = (q > 255) ? 8w255 : q[7:0];
            }
            if (meta.mlp.acc1[31:31] == 1) {
                meta.mlp.y1 = 0;
            } else {
                q = meta.mlp.acc1 >> meta.mlp.shift;
                meta.mlp.y1 = (q > 255) ? 8w255 : q[7:0];
            }
            if (meta.mlp.acc2[31:31] == 1) {
                meta.mlp.y2 = 0;
            } else {
                q = meta.mlp.acc2 >> meta.mlp.shift;
                meta.mlp.y2 = (q > 255) ? 8w255 : q[7:0];
            }
            if (meta.mlp.acc3[31:31] == 1) {
                meta.mlp.y3 = 0;
            } else {
                q = meta.mlp.acc3 >> meta.mlp.shift;
                meta.mlp.y3 = (q > 255) ? 8w255 : q[7:0];
            }
            if (meta.mlp.acc4[31:31] == 1) {
                meta.mlp.y4 = 0;
            } else {
                q = meta.mlp.acc4 >> meta.mlp.shift;
                meta.mlp.y4 = (q > 255) ? 8w255 : q[7:0];
            }
            if (meta.mlp.acc5[31:31] == 1) {
                meta.mlp.y5 = 0;
            } else {
                q = meta.mlp.acc5 >> meta.mlp.shift;
                meta.mlp.y5 = (q > 255) ? 8w255 : q[7:0];
            }
            if (meta.mlp.acc6[31:31] == 1) {
                meta.mlp.y6 = 0;
            } else {
                q = meta.mlp.acc6 >> meta.mlp.shift;
                meta.mlp.y6 = (q > 255) ? 8w255 : q[7:0];
            }
            if (meta.mlp.acc7[31:31] == 1) {
                meta.mlp.y7 = 0;
            } else {
                q = meta.mlp.acc7 >> meta.mlp.shift;
                meta.mlp.y7 = (q > 255) ? 8w255 : q[7:0];
            }
            if (meta.mlp.acc8[31:31] == 1) {
                meta.mlp.y8 = 0;
            } else {
                q = meta.mlp.acc8 >> meta.mlp.shift;
                meta.mlp.y8 = (q > 255) ? 8w255 : q[7:0];
            }
            if (meta.mlp.acc9[31:31] == 1) {
                meta.mlp.y9 = 0;
            } else {
                q = meta.mlp.acc9 >> meta.mlp.shift;
                meta.mlp.y9 = (q > 255) ? 8w255 : q[7:0];
            }
            if (meta.mlp.acc10[31:31] == 1) {
                meta.mlp.y10 = 0;
            } else {
                q = meta.mlp.acc10 >> meta.mlp.shift;
                meta.mlp.y10 = (q > 255) ? 8w255 : q[7:0];
            }
            if (meta.mlp.acc11[31:31] == 1) {
                meta.mlp.y11 = 0;
            } else {
                q = meta.mlp.acc11 >> meta.mlp.shift;
                meta.mlp.y11 = (q > 255) ? 8w255 : q[7:0];
            }
            if (meta.mlp.acc12[31:31] == 1) {
                meta.mlp.y12 = 0;
            } else {
                q = meta.mlp.acc12 >> meta.mlp.shift;
                meta.mlp.y12 = (q > 255) ? 8w255 : q[7:0];
            }
            if (meta.mlp.acc13[31:31] == 1) {
                meta.mlp.y13 = 0;
            } else {
                q = meta.mlp.acc13 >> meta.mlp.shift;
                meta.mlp.y13 = (q > 255) ? 8w255 : q[7:0];
            }
            if (meta.mlp.acc14[31:31] == 1) {
                meta.mlp.y14 = 0;
            } else {
                q = meta.mlp.acc14 >> meta.mlp.shift;
                meta.mlp.y14 = (q > 255) ? 8w255 : q[7:0];
            }
            if (meta.mlp.acc15[31:31] == 1) {
                meta.mlp.y15 = 0;
            } else {
                q = meta.mlp.acc15 >> meta.mlp.shift;
                meta.mlp.y15 = (q > 255) ? 8w255 : q[7:0];
            }
        }
    }
}

#endif  /* _DIN_MLP_P4_ */
