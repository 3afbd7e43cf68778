/**
 * Playground: upload (or link) a character image and a reference video, pick the options, see the
 * key's price and the chosen provider, Generate, and watch the task until its video plays. Also
 * creates custom elements from a face clip.
 */
import { Alert, PageHead } from '../layout.tsx';

function Drop(props: { id: string; label: string; accept: string; hint: string }) {
  return (
    <div class="drop" data-drop={props.id}>
      <div class="field">
        <label for={`${props.id}-file`}>{props.label}</label>
        <input type="file" id={`${props.id}-file`} accept={props.accept} />
      </div>
      <div class="field">
        <label for={`${props.id}-url`}>{`${props.label} URL`}</label>
        <input type="url" id={`${props.id}-url`} placeholder="https://… or drop a file here" />
      </div>
      <p class="status" id={`${props.id}-status`}>
        {props.hint}
      </p>
      <div id={`${props.id}-preview`}></div>
    </div>
  );
}

export function PlaygroundView() {
  return (
    <>
      <PageHead title="Playground" sub="Motion control: the character in the image performs the motion of the reference video." />
      <form id="generate-form" class="panel" novalidate>
        <div class="grid-2">
          <Drop id="image" label="Character image" accept="image/png,image/jpeg,image/webp" hint="PNG, JPEG or WEBP — drag a file here, choose one, or paste a URL." />
          <Drop id="video" label="Reference video" accept="video/mp4,video/quicktime,video/webm" hint="MP4, MOV or WEBM, 3–10 s (up to 30 s with orientation video)." />
        </div>
        <div class="options">
          <div class="field">
            <label for="quality">Quality</label>
            <select id="quality">
              <option value="720p">720p</option>
              <option value="1080p">1080p</option>
            </select>
          </div>
          <div class="field">
            <label for="orientation">Character orientation</label>
            <select id="orientation">
              <option value="image">image</option>
              <option value="video">video</option>
            </select>
          </div>
          <div class="field">
            <label for="element">Element</label>
            <select id="element">
              <option value="">none</option>
            </select>
          </div>
          <label class="check">
            <input type="checkbox" id="sound" checked />
            Keep original sound
          </label>
        </div>
        <div class="field">
          <label for="prompt">Prompt (optional)</label>
          <textarea id="prompt" maxlength={2500}></textarea>
        </div>
      </form>
      <section class="panel" aria-labelledby="quote-head">
        <h2 id="quote-head">Quote</h2>
        <div class="quote">
          <div>
            <div class="price" id="quote-price">
              —
            </div>
            <div class="muted small" id="quote-detail">
              Add a character image and a reference video to see the price.
            </div>
          </div>
          <div>
            <div class="muted small">Provider</div>
            <div class="mono" id="quote-provider">
              —
            </div>
          </div>
          <button type="submit" form="generate-form" id="generate" disabled>
            Generate
          </button>
        </div>
      </section>
      <Alert />
      <section class="panel stack" id="run" hidden aria-live="polite">
        <h2>Progress</h2>
        <p id="run-status"></p>
        <progress id="run-progress" max={100} value={0} aria-label="Task progress"></progress>
        <div id="run-result"></div>
      </section>
      <section class="panel">
        <h2>Custom element</h2>
        <p class="muted">A reusable subject from a short face clip (at most 8 s). Once created it appears in the Element list above.</p>
        <form class="inline" id="element-form">
          <div class="field">
            <label for="el-name">Element name</label>
            <input type="text" id="el-name" maxlength={20} required />
          </div>
          <div class="field">
            <label for="el-desc">Description</label>
            <input type="text" id="el-desc" maxlength={100} required />
          </div>
          <div class="field">
            <label for="face-file">Face clip</label>
            <input type="file" id="face-file" accept="video/mp4,video/quicktime,video/webm" />
          </div>
          <div class="field">
            <label for="face-url">Face clip URL</label>
            <input type="url" id="face-url" />
          </div>
          <button type="submit">Create element</button>
        </form>
        <p class="muted small" id="face-status"></p>
        <div role="alert" class="alert" id="element-error"></div>
        <p class="muted small" id="element-status" aria-live="polite"></p>
      </section>
    </>
  );
}
