// @tus/server with @tus/file-store (the real ones, from npm) for tests/peers/test_tus_server.c.
// usage: node tus_server.mjs DIRECTORY
// Serves tus uploads at http://127.0.0.1:PORT/files/ (PORT picked by the kernel), storing each
// upload as DIRECTORY/<id> (and <id>.json); prints "listening on http://127.0.0.1:PORT/files/"
// when ready, then one line per finished upload on stderr. SIGTERM stops it.
import http from 'node:http'
import { FileStore } from '@tus/file-store'
import { Server } from '@tus/server'

const directory = process.argv[2]
const tus = new Server({
  path: '/files',
  datastore: new FileStore({ directory }),
  onUploadFinish: async (req, res, upload) => {
    process.stderr.write(`finished ${upload.id} ${upload.size}\n`)
    return res
  },
})
const server = http.createServer((req, res) => tus.handle(req, res))
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening on http://127.0.0.1:${server.address().port}/files/\n`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
