import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'

export interface Answer {
  status: number
  /** A JSON document, or text with its content type. */
  body: unknown
  contentType?: string
}

export interface Routes {
  metrics(): Promise<Answer>
  ready(): Promise<Answer>
  validate(familyId: string): Promise<Answer>
}

// The validate endpoint takes an id as the users and families tables hold it:
// a whole number a BIGINT column can hold.
const FAMILY = /^\/families\/([^/]+)\/validate\/?$/
const BIGINT_MAX = 2n ** 63n - 1n

function familyIdOf(text: string): string | null {
  if (!/^\d{1,19}$/.test(text)) return null
  return BigInt(text) <= BIGINT_MAX ? text : null
}

function send(res: ServerResponse, method: string, answer: Answer, headers: Record<string, string> = {}): void {
  const json = answer.contentType === undefined
  const body = json ? JSON.stringify(answer.body, null, 2) + '\n' : String(answer.body)
  res.writeHead(answer.status, { 'Content-Type': answer.contentType ?? 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...headers })
  res.end(method === 'HEAD' ? undefined : body)
}

/**
 * serve's HTTP side, on Node's own http server (five routes need no
 * framework): GET and HEAD only; anything else on a known route is 405 with
 * Allow, an unknown path 404, and a failure 500 with a short JSON body, never
 * a stack trace. `onError` hears about failures (the CLI prints one line).
 */
export function createHttpServer(routes: Routes, onError: (error: unknown) => void): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET'
    const path = (req.url ?? '/').split('?')[0]
    const family = FAMILY.exec(path)
    const route =
      path === '/metrics' ? () => routes.metrics()
      : path === '/healthz' ? async () => ({ status: 200, body: { status: 'ok' } })
      : path === '/readyz' ? () => routes.ready()
      : family ? () => {
          const id = familyIdOf(family[1])
          return id === null
            ? Promise.resolve({ status: 400, body: { error: `not a family id: '${family[1].slice(0, 40)}' (a whole number up to ${BIGINT_MAX})` } })
            : routes.validate(id)
        }
      : undefined
    if (!route) return send(res, method, { status: 404, body: { error: 'not found: family-sync serves /metrics, /healthz, /readyz and /families/{id}/validate' } })
    if (method !== 'GET' && method !== 'HEAD') return send(res, method, { status: 405, body: { error: `${method} is not allowed here: use GET` } }, { Allow: 'GET, HEAD' })
    route().then(
      (answer) => send(res, method, answer),
      (error) => {
        onError(error)
        send(res, method, { status: 500, body: { error: 'internal error: see the serve log' } })
      },
    )
  })
}
