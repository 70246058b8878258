<?php
/**
 * The admin settings section (OCA\Harp\Settings\Admin::state() gives $_;
 * every text goes through $l, the app's IL10N). The buttons are forms that
 * js/admin.js posts with Nextcloud's request token, asking for the admin's
 * password first where the action needs it, and whose answer it shows in
 * place (.harp-message). Trusting a device needs the box that says the IDs
 * were compared.
 */
/** @var array $_ */
/** @var \OCP\IL10N $l */
$bytes = [\OCA\Harp\Command\Peers::class, 'bytes'];
?>
<div id="harpbridge" class="section">
	<h2><?php p($l->t('Harp sync')); ?></h2>
	<p class="harp-message" role="status" aria-live="polite"></p>
<?php if (!$_['extension']): ?>
	<p class="warning"><?php p($_['install_hint']); ?></p>
<?php elseif (!$_['running']): ?>
	<p class="warning"><?php p($_['error']); ?></p>
<?php else: ?>
	<p><?php p($l->t('This device: %s', [$_['name']])); ?><br>
		<?php p($l->t('ID')); ?> <code class="harp-device-id"><?php p($_['device_id']); ?></code></p>
	<p><?php p($l->t('WAN bytes saved (received from peers on the LAN): %s', [$bytes($_['wan_bytes_saved'])])); ?></p>
<?php endif; ?>

	<h3><?php p($l->t('Peers')); ?></h3>
	<table class="grid harp-peers">
		<thead><tr><th><?php p($l->t('Device')); ?></th><th><?php p($l->t('Name')); ?></th><th><?php p($l->t('Network')); ?></th><th><?php p($l->t('RTT')); ?></th><th><?php p($l->t('Trusted')); ?></th><th><?php p($l->t('Connected')); ?></th><th></th></tr></thead>
		<tbody>
<?php foreach ($_['peers'] as $peer): ?>
		<tr data-device-id="<?php p($peer['device_id']); ?>">
			<td><code><?php p($peer['device_id']); ?></code></td>
			<td><?php p($peer['name']); ?></td>
			<td><?php p($peer['network']); ?></td>
			<td><?php p($peer['rtt_ms'] === null ? '' : $l->t('%s ms', [$peer['rtt_ms']])); ?></td>
			<td><?php p($peer['trusted'] ? $l->t('yes') : $l->t('no')); ?></td>
			<td><?php p($peer['connected'] ? $l->t('yes') : $l->t('no')); ?></td>
			<td>
<?php if (!$peer['trusted']): ?>
				<form class="harp-action" method="post" action="<?php p($_['trust_url']); ?>" data-confirm-password="1">
					<input type="hidden" name="deviceId" value="<?php p($peer['device_id']); ?>">
					<label><input type="checkbox" name="compared" value="1" required> <?php p($l->t('I compared this ID with the one shown on that device')); ?></label>
					<button type="submit"><?php p($l->t('Trust')); ?></button>
				</form>
<?php else: ?>
				<form class="harp-action" method="post" action="<?php p($_['untrust_url']); ?>">
					<input type="hidden" name="deviceId" value="<?php p($peer['device_id']); ?>">
					<button type="submit"><?php p($l->t('Untrust')); ?></button>
				</form>
<?php endif; ?>
			</td>
		</tr>
<?php endforeach; ?>
		</tbody>
	</table>
	<p><?php p($l->t('A device beyond the LAN: occ harp:trust <its ID> <IP:port>, and the same on that server with this ID.')); ?></p>

	<h3><?php p($l->t('Folders')); ?></h3>
	<table class="grid harp-folders">
		<thead><tr><th><?php p($l->t('Harp folder')); ?></th><th><?php p($l->t('In Nextcloud')); ?></th><th><?php p($l->t('Files')); ?></th><th><?php p($l->t('State')); ?></th><th></th></tr></thead>
		<tbody>
<?php foreach ($_['folders'] as $folder): ?>
		<tr data-folder-id="<?php p($folder['id']); ?>">
			<td><?php p($folder['id']); ?></td>
			<td><?php p($folder['where']); ?></td>
			<td><?php p((string) ($folder['files'] ?? '')); ?></td>
			<td><?php p($folder['state']); ?></td>
			<td>
				<form class="harp-action" method="post" action="<?php p($_['scan_url']); ?>">
					<input type="hidden" name="folderId" value="<?php p($folder['id']); ?>">
					<button type="submit"><?php p($l->t('Scan now')); ?></button>
				</form>
				<form class="harp-action" method="post" action="<?php p($_['remove_url']); ?>" data-confirm-password="1">
					<input type="hidden" name="folderId" value="<?php p($folder['id']); ?>">
					<button type="submit"><?php p($l->t('Unmap')); ?></button>
				</form>
			</td>
		</tr>
<?php endforeach; ?>
		</tbody>
	</table>

	<h3><?php p($l->t('Transfers in flight')); ?></h3>
	<ul class="harp-transfers">
<?php foreach ($_['transfers'] as $t): ?>
		<li><?php p($l->t('%1$s/%2$s: %3$s of %4$s', [$t['folder'], $t['path'], $bytes((int) $t['bytes_done']), $bytes((int) $t['bytes_total'])])); ?></li>
<?php endforeach; ?>
<?php if ($_['transfers'] === []): ?>
		<li><?php p($l->t('none')); ?></li>
<?php endif; ?>
	</ul>
</div>
