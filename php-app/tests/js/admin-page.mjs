// Drives the admin section in a DOM (jsdom) against a stand-in server
// started with `php -S ... tests/web.php`: loads the page, runs the app's
// js/admin.js as Nextcloud would, and clicks what an admin clicks. The
// harness plays the parts of the browser and of Nextcloud's core scripts:
// window.fetch, and OC.requestToken / OC.PasswordConfirmation (core's
// dialog; here it types the admin's password). Prints one JSON report.
//
//   HARP_NODE_MODULES=/var/cache/harp-test/node/node_modules node admin-page.mjs http://127.0.0.1:PORT
// (scripts/test installs jsdom there, outside the clone.)
import { createRequire } from 'node:module'

const { JSDOM } = createRequire(process.env.HARP_NODE_MODULES + '/')('jsdom')

const base = process.argv[2]
const report = { steps: [] }

async function open() {
	const html = await (await fetch(base + '/settings/admin/harpbridge')).text()
	const dom = new JSDOM(html, { url: base + '/settings/admin/harpbridge', runScripts: 'outside-only' })
	const w = dom.window
	const token = w.document.querySelector('meta[name=requesttoken]').content
	let confirmedAt = 0
	w.fetch = async (url, opts = {}) => {
		const r = await fetch(new URL(url, base), {
			method: opts.method,
			headers: { ...opts.headers, 'Content-Type': 'application/x-www-form-urlencoded' },
			body: opts.body === undefined ? undefined : String(opts.body),
		})
		const text = await r.text()
		return { ok: r.ok, status: r.status, statusText: r.statusText, json: async () => JSON.parse(text) }
	}
	w.OC = {
		requestToken: token,
		PasswordConfirmation: {
			requiresPasswordConfirmation: () => Date.now() - confirmedAt > 30 * 60 * 1000,
			requirePasswordConfirmation: async (callback) => {
				report.passwordDialogs = (report.passwordDialogs || 0) + 1
				const r = await fetch(base + '/login/confirm', {
					method: 'POST',
					headers: { requesttoken: token, 'Content-Type': 'application/x-www-form-urlencoded' },
					body: 'password=secret',
				})
				if (r.ok) {
					confirmedAt = Date.now()
					callback()
				}
			},
		},
	}
	w.HARP_NO_RELOAD = true
	// The scripts the page asks for, as the browser would load them.
	for (const s of w.document.querySelectorAll('script[src]')) {
		w.eval(await (await fetch(new URL(s.getAttribute('src'), base))).text())
	}
	return w
}

// Submits the form inside $row matching $selector; resolves with the message shown.
function act(w, form) {
	const section = w.document.getElementById('harpbridge')
	return new Promise((resolve) => {
		const done = () => resolve(section.querySelector('.harp-message').textContent)
		section.addEventListener('harp:changed', done, { once: true })
		const observer = new w.MutationObserver(() => {
			if (section.querySelector('.harp-message').classList.contains('warning')) {
				observer.disconnect()
				done()
			}
		})
		observer.observe(section.querySelector('.harp-message'), { attributes: true })
		form.requestSubmit()
	})
}

let w = await open()
const peerRow = w.document.querySelector('tr[data-device-id]')
const device = peerRow.dataset.deviceId
report.steps.push(['untrust', await act(w, peerRow.querySelector('form.harp-action'))])

w = await open()
const trustForm = w.document.querySelector(`tr[data-device-id="${device}"] form.harp-action`)
report.trustNeedsPassword = trustForm.dataset.confirmPassword === '1'
// Without the box ticked the form does not go out.
report.submittedWithoutTick = trustForm.reportValidity()
trustForm.querySelector('input[name=compared]').checked = true
report.steps.push(['trust', await act(w, trustForm)])

const folderRow = w.document.querySelector('tr[data-folder-id]')
const [scanForm, unmapForm] = folderRow.querySelectorAll('form.harp-action')
report.steps.push(['scan', await act(w, scanForm)])
report.steps.push(['unmap', await act(w, unmapForm)])
report.device = device
console.log(JSON.stringify(report))
