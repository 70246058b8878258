/**
 * The admin settings' buttons (templates/admin.php): each .harp-action form
 * is posted with fetch and Nextcloud's request token, and its JSON answer
 * ({ok, message}) is shown in .harp-message instead of a page of raw JSON.
 * A form marked data-confirm-password asks for the admin's password first
 * (OC.PasswordConfirmation, Nextcloud's dialog); the controller refuses
 * without it (#[PasswordConfirmationRequired]). After a change the section
 * reloads to show the new state.
 */
(function () {
	'use strict'

	function show(section, text, ok) {
		const box = section.querySelector('.harp-message')
		box.textContent = text
		box.className = 'harp-message ' + (ok ? 'success' : 'warning')
	}

	async function post(form) {
		const response = await fetch(form.action, {
			method: 'POST',
			headers: { requesttoken: window.OC.requestToken, Accept: 'application/json' },
			body: new URLSearchParams(new FormData(form)),
			credentials: 'same-origin',
		})
		let answer
		try {
			answer = await response.json()
		} catch (e) {
			answer = { ok: false, message: response.status + ' ' + response.statusText }
		}
		return { ok: response.ok && answer.ok === true, message: String(answer.message || '') }
	}

	async function submit(section, form) {
		const buttons = form.querySelectorAll('button')
		buttons.forEach((b) => { b.disabled = true })
		try {
			const result = await post(form)
			show(section, result.message, result.ok)
			if (result.ok) {
				section.dispatchEvent(new CustomEvent('harp:changed', { detail: result }))
				if (window.HARP_NO_RELOAD !== true) {
					window.location.reload()
				}
			}
		} catch (e) {
			show(section, String(e), false)
		} finally {
			buttons.forEach((b) => { b.disabled = false })
		}
	}

	function init() {
		const section = document.getElementById('harpbridge')
		if (!section) {
			return
		}
		section.addEventListener('submit', (event) => {
			const form = event.target.closest('form.harp-action')
			if (!form) {
				return
			}
			event.preventDefault()
			if (!form.reportValidity()) {
				return
			}
			const run = () => submit(section, form)
			const confirm = window.OC && window.OC.PasswordConfirmation
			if (form.dataset.confirmPassword && confirm && confirm.requiresPasswordConfirmation()) {
				confirm.requirePasswordConfirmation(run)
			} else {
				run()
			}
		})
	}

	if (document.readyState === 'loading') {
		document.addEventListener('DOMContentLoaded', init)
	} else {
		init()
	}
})()
