// The HTTP function uploadBytes (files.js) runs on in the browser: one XMLHttpRequest per call, for its upload
// progress events. Resolves with any HTTP answer; rejects only when none came (network failure, abort, timeout).

const TIMEOUT_MS = 5 * 60 * 1000;

/** @returns {Promise<{status, header(name), text}>} */
export function xhrRequest({ method, url, headers = {}, body = null, onUploadProgress }) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.timeout = TIMEOUT_MS;
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    if (onUploadProgress && body) xhr.upload.onprogress = (e) => onUploadProgress(e.loaded);
    xhr.onload = () => resolve({ status: xhr.status, header: (name) => xhr.getResponseHeader(name),
      text: xhr.responseText });
    xhr.onerror = () => reject(new Error('network error'));
    xhr.ontimeout = () => reject(new Error('no answer in time'));
    xhr.onabort = () => reject(new Error('aborted'));
    xhr.send(body);
  });
}
