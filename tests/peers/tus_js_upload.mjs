// Upload one file with tus-js-client (the real client, from npm) for tests/peers/test_tus_js.c.
// usage: node tus_js_upload.mjs ENDPOINT FILE [--name KEY] [--parallel N] [--chunk-size B]
//          [--with-upload] [--override-patch] [--store DIR]
//          [--protocol tus-v1|ietf-draft-05]
// Prints one line per event ("request PATCH 123", "head-offset 456", "resuming URL") and ends
// with "ok URL" (exit 0) or "error MESSAGE" (exit 1).
import fs from 'node:fs'
import { FileUrlStorage, Upload } from 'tus-js-client'

const [endpoint, file, ...rest] = process.argv.slice(2)
const opt = {}
for (let i = 0; i < rest.length; i++) {
  const a = rest[i]
  if (a === '--with-upload' || a === '--override-patch') opt[a.slice(2)] = true
  else opt[a.slice(2)] = rest[++i]
}
const say = (...words) => process.stdout.write(`${words.join(' ')}\n`)

const options = {
  endpoint,
  metadata: { filename: opt.name ?? 'tus-js.bin' },
  parallelUploads: Number(opt.parallel ?? 1),
  chunkSize: opt['chunk-size'] ? Number(opt['chunk-size']) : Number.POSITIVE_INFINITY,
  uploadDataDuringCreation: Boolean(opt['with-upload']),
  overridePatchMethod: Boolean(opt['override-patch']),
  protocol: opt.protocol ?? 'tus-v1',
  retryDelays: Array(40).fill(100), // cut connections are retried: HEAD, then PATCH from there
  onBeforeRequest(req) {
    say('request', req.getMethod(), req.getHeader('Upload-Offset') ?? '-')
  },
  onAfterResponse(req, res) {
    if (req.getMethod() === 'HEAD') say('head-offset', res.getHeader('Upload-Offset') ?? '-')
  },
  onSuccess() {
    say('ok', upload.url)
    process.exit(0)
  },
  onError(err) {
    say('error', String(err.message).replace(/\s+/g, ' '))
    process.exit(1)
  },
}
if (opt.store) options.urlStorage = new FileUrlStorage(opt.store)

const upload = new Upload(fs.createReadStream(file), options)
if (opt.store) {
  const previous = await upload.findPreviousUploads()
  if (previous.length > 0) {
    upload.resumeFromPreviousUpload(previous[0])
    say('resuming', previous[0].uploadUrl ?? previous[0].parallelUploadUrls.join(','))
  }
}
upload.start()
