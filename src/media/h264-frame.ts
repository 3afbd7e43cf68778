/**
 * A real, decodable H.264 picture for synthetic MP4s: a Baseline-profile SPS/PPS and one IDR slice
 * in which every macroblock is Intra 16×16 with DC prediction and no residual (a flat grey frame,
 * 8 bits per macroblock). Browsers can play a file built from it, which the dashboard's playground
 * and its browser tests need; header parsers see the same structure as before.
 */

/** Exp-Golomb / fixed-width bit writer for RBSP payloads. */
class Bits {
  private readonly out: number[] = [];
  private cur = 0;
  private n = 0;

  u(bits: number, value: number): this {
    for (let i = bits - 1; i >= 0; i--) {
      this.cur = (this.cur << 1) | ((value >> i) & 1);
      if (++this.n === 8) {
        this.out.push(this.cur);
        this.cur = 0;
        this.n = 0;
      }
    }
    return this;
  }

  ue(value: number): this {
    const len = Math.floor(Math.log2(value + 1));
    return this.u(len, 0).u(len + 1, value + 1);
  }

  se(value: number): this {
    return this.ue(value <= 0 ? -2 * value : 2 * value - 1);
  }

  /** rbsp_trailing_bits: a stop bit, then zeros to the byte boundary. */
  trailing(): number[] {
    this.u(1, 1);
    while (this.n !== 0) this.u(1, 0);
    return this.out;
  }
}

/** NAL unit bytes with emulation-prevention (no 00 00 0x with x ≤ 3 inside the payload). */
function nal(header: number, rbsp: number[]): Buffer {
  const out = [header];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) {
      out.push(3);
      zeros = 0;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return Buffer.from(out);
}

/** H.264 level_idc (Table A-1, MaxFS) for a picture of `mbs` macroblocks. */
function levelFor(mbs: number): number {
  if (mbs <= 1620) return 30;
  if (mbs <= 3600) return 31;
  if (mbs <= 5120) return 32;
  if (mbs <= 8192) return 40;
  if (mbs <= 22080) return 51;
  return 52;
}

/** SPS, PPS and the IDR slice (without length prefixes) of a `width`×`height` grey frame. */
export function greyFrame(width: number, height: number): { sps: Buffer; pps: Buffer; idr: Buffer } {
  if (width % 2 || height % 2 || width < 2 || height < 2) throw new RangeError('width and height must be even and positive');
  // Coded in whole 16×16 macroblocks; a size like 1080 is cropped from 1088 (crop units are 2 px in 4:2:0).
  const mbW = Math.ceil(width / 16);
  const mbH = Math.ceil(height / 16);
  const cropRight = (mbW * 16 - width) / 2;
  const cropBottom = (mbH * 16 - height) / 2;
  const mbs = mbW * mbH;
  const sps = new Bits()
    .u(8, 66) // profile_idc: Baseline
    .u(8, 0xc0) // constraint_set0/1
    .u(8, levelFor(mbs)) // the lowest level whose frame size fits (3.0 up to 720×576)
    .ue(0) // seq_parameter_set_id
    .ue(0) // log2_max_frame_num_minus4
    .ue(2) // pic_order_cnt_type
    .ue(1) // max_num_ref_frames
    .u(1, 0) // gaps_in_frame_num_value_allowed_flag
    .ue(mbW - 1)
    .ue(mbH - 1)
    .u(1, 1) // frame_mbs_only_flag
    .u(1, 1); // direct_8x8_inference_flag
  if (cropRight || cropBottom) sps.u(1, 1).ue(0).ue(cropRight).ue(0).ue(cropBottom);
  else sps.u(1, 0); // frame_cropping_flag
  const spsBytes = sps
    .u(1, 0) // vui_parameters_present_flag
    .trailing();
  const pps = new Bits()
    .ue(0) // pic_parameter_set_id
    .ue(0) // seq_parameter_set_id
    .u(1, 0) // entropy_coding_mode_flag: CAVLC
    .u(1, 0) // bottom_field_pic_order_in_frame_present_flag
    .ue(0) // num_slice_groups_minus1
    .ue(0) // num_ref_idx_l0_default_active_minus1
    .ue(0) // num_ref_idx_l1_default_active_minus1
    .u(1, 0) // weighted_pred_flag
    .u(2, 0) // weighted_bipred_idc
    .se(0) // pic_init_qp_minus26
    .se(0) // pic_init_qs_minus26
    .se(0) // chroma_qp_index_offset
    .u(1, 1) // deblocking_filter_control_present_flag
    .u(1, 0) // constrained_intra_pred_flag
    .u(1, 0) // redundant_pic_cnt_present_flag
    .trailing();
  const slice = new Bits()
    .ue(0) // first_mb_in_slice
    .ue(7) // slice_type: I (all slices)
    .ue(0) // pic_parameter_set_id
    .u(4, 0) // frame_num
    .ue(0) // idr_pic_id
    .u(1, 0) // no_output_of_prior_pics_flag
    .u(1, 0) // long_term_reference_flag
    .se(0) // slice_qp_delta
    .ue(1); // disable_deblocking_filter_idc: off
  for (let i = 0; i < mbs; i++) {
    // mb_type I_16x16_2_0_0 (DC, no coded blocks), chroma DC, qp delta 0, empty luma DC block.
    slice.ue(3).ue(0).se(0).u(1, 1);
  }
  return { sps: nal(0x67, spsBytes), pps: nal(0x68, pps), idr: nal(0x65, slice.trailing()) };
}
