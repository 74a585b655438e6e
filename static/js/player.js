/**
 * Plays a broadcast's URL in a media element: HLS natively where the browser has it (Safari on
 * every iPhone, Chrome on Android and recent desktop Chromium), otherwise through hls.js, a
 * static file (/static/vendor/hls.js/, no build step) fetched the first time it is needed and
 * never before; a URL that is not an HLS playlist (an MP4 recording) is the element's own source.
 *
 * hls.js runs without its Web Worker: the worker would be made from a blob: URL, which the
 * pages' CSP does not allow (worker-src), and playing a phone's stream does not need it.
 */

const HLS_JS = '/static/vendor/hls.js/hls.min.js';
const MPEGURL = 'application/vnd.apple.mpegurl';
let hlsJs = null;

/** Whether url is an HLS playlist (its path ends in .m3u8); a live stream always is. */
export function isHls(url) {
  try {
    return /\.m3u8$/i.test(new URL(url).pathname);
  } catch {
    return false;
  }
}

/** The hls.js constructor, loaded once (a classic script: it defines window.Hls). */
function loadHlsJs() {
  hlsJs ??= new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = HLS_JS;
    script.addEventListener('load', () => resolve(window.Hls));
    script.addEventListener('error', () => {
      hlsJs = null;
      reject(new Error('hls.js did not load'));
    });
    document.head.append(script);
  });
  return hlsJs;
}

/**
 * Start loading url into media; resolves to { engine, stop() }. fatal(reason) is called when
 * playback cannot go on (a network or decoding error hls.js could not recover from, or the
 * element's own error), after which the caller stops and may start again.
 */
export async function attach(media, url, { hls = true, live = false, fatal = () => {} } = {}) {
  const native = !hls || media.canPlayType(MPEGURL) !== '';
  if (native) {
    const onError = () => fatal(media.error ? `media ${media.error.code}` : 'media');
    media.addEventListener('error', onError);
    media.src = url;
    return {
      engine: hls ? 'native' : 'file',
      stop() {
        media.removeEventListener('error', onError);
        media.removeAttribute('src');
        media.load();
      },
    };
  }
  const Hls = await loadHlsJs();
  if (!Hls.isSupported()) throw new Error('no Media Source in this browser');
  const player = new Hls({ enableWorker: false, liveDurationInfinity: live });
  let recovered = false;
  player.on(Hls.Events.ERROR, (_, data) => {
    if (!data.fatal) return;
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !recovered) {
      recovered = true; // one retry of the decoder, as hls.js advises; a second fatal one ends it
      player.recoverMediaError();
      return;
    }
    fatal(`${data.type}: ${data.details}`);
  });
  player.loadSource(url);
  player.attachMedia(media);
  return {
    engine: 'hls.js',
    stop() {
      player.destroy();
      media.removeAttribute('src');
      media.load();
    },
  };
}
