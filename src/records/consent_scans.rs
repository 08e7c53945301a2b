//! The scanned copy of a consent signed on paper (42 CFR 2.31 asks for the
//! signature; on paper, the scan is the proof). The care team uploads it
//! once, as a PDF, PNG or JPEG that its first bytes say it is, within
//! [`MAX_SCAN_BYTES`]; it is stored sealed like other clinical text and
//! never changed. The care team and the partner who signed it download it;
//! nobody else does: not the other partner, not a supervisor, not an admin.

use std::collections::HashMap;

use base64::{Engine, engine::general_purpose::STANDARD};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, QueryFilter, QuerySelect};
use time::OffsetDateTime;
use uuid::Uuid;

use entity::consent_scans;

use super::consents::{self, ScanInfo, SignedVia};
use crate::{
    access::{CoupleAccess, Relation},
    error::AppError,
    vault::fields::CONSENT_SCAN_CONTENT as CONTENT,
};

/// The largest scan accepted: a few scanned pages, inside the request limit.
pub const MAX_SCAN_BYTES: usize = 768 * 1024;

/// The kinds of file a scan may be, by their first bytes.
const KINDS: [(&[u8], &str); 3] = [(b"%PDF-", "application/pdf"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xFF\xD8\xFF", "image/jpeg")];

/// What `bytes` are, by their first bytes; a declared type must agree.
pub fn content_type(bytes: &[u8], declared: Option<&str>) -> Result<&'static str, AppError> {
    if bytes.is_empty() {
        return Err(AppError::invalid("file", "choose the scanned consent: the file is empty"));
    }
    if bytes.len() > MAX_SCAN_BYTES {
        return Err(AppError::invalid("file", &format!("the scan may be at most {} KiB", MAX_SCAN_BYTES / 1024)));
    }
    let sniffed = KINDS
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
        .map(|(_, kind)| *kind)
        .ok_or_else(|| AppError::invalid("file", "the scan must be a PDF, PNG or JPEG file"))?;
    match declared.map(|d| d.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()) {
        Some(d) if !d.is_empty() && d != "application/octet-stream" && d != sniffed => {
            Err(AppError::invalid("file", &format!("the file says it is {d} but its content is {sniffed}")))
        }
        _ => Ok(sniffed),
    }
}

/// Stores the scan of paper consent `consent_id` (the care team; once).
pub async fn upload(access: &CoupleAccess, now: OffsetDateTime, consent_id: Uuid, bytes: &[u8], declared: Option<&str>) -> Result<ScanInfo, AppError> {
    let consent = consents::get(access, consent_id).await?;
    if access.relation != Relation::CareTeam {
        return Err(AppError::Forbidden("The care team uploads the scan of a paper consent.".into()));
    }
    if consent.signed_via != SignedVia::Paper {
        return Err(AppError::Conflict("This consent was signed in the portal; only a paper consent has a scanned copy.".into()));
    }
    if consent.scan.is_some() {
        return Err(AppError::Conflict("This consent's scan is kept as it was uploaded.".into()));
    }
    let kind = content_type(bytes, declared)?;
    let id = Uuid::now_v7();
    let row = consent_scans::ActiveModel {
        id: Set(id),
        practice_id: Set(access.scope.practice_id()),
        couple_id: Set(access.couple_id()),
        consent_id: Set(consent_id),
        content_type: Set(kind.to_owned()),
        size_bytes: Set(i32::try_from(bytes.len()).map_err(anyhow::Error::from)?),
        content: Set(access.cipher().seal(CONTENT, id, &STANDARD.encode(bytes))),
        uploaded_by: Set(access.member_id),
        uploaded_at: Set(now),
    }
    .insert(&access.db())
    .await?;
    Ok(ScanInfo { content_type: row.content_type, size_bytes: row.size_bytes, uploaded_at: row.uploaded_at })
}

/// A scan as it is downloaded.
pub struct ScanFile {
    pub content_type: String,
    /// `Content-Disposition`: an attachment, never shown inline.
    pub disposition: String,
    pub bytes: Vec<u8>,
}

/// The scan of consent `consent_id`: for the care team and the partner who
/// signed it (the other partner is told it does not exist).
pub async fn download(access: &CoupleAccess, consent_id: Uuid) -> Result<ScanFile, AppError> {
    let consent = consents::get(access, consent_id).await?;
    match access.relation {
        Relation::CareTeam => {}
        Relation::Partner(me) if me == consent.partner => {}
        _ => return Err(AppError::Forbidden("A consent's scan is for the care team and the partner who signed it.".into())),
    }
    let row = access
        .records::<consent_scans::Entity>()
        .filter(consent_scans::Column::ConsentId.eq(consent_id))
        .one(&access.db())
        .await?
        .ok_or(AppError::NotFound)?;
    let encoded = access.cipher().open(CONTENT, row.id, &row.content)?;
    let bytes = STANDARD.decode(encoded).map_err(anyhow::Error::from)?;
    let extension = match row.content_type.as_str() {
        "application/pdf" => "pdf",
        "image/png" => "png",
        _ => "jpg",
    };
    Ok(ScanFile { disposition: format!("attachment; filename=\"consent-scan.{extension}\""), content_type: row.content_type, bytes })
}

/// What is known of the scans of `consent_ids`, without their bytes.
pub async fn infos(access: &CoupleAccess, consent_ids: Vec<Uuid>) -> Result<HashMap<Uuid, ScanInfo>, AppError> {
    if consent_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, String, i32, OffsetDateTime)> = access
        .records::<consent_scans::Entity>()
        .select_only()
        .column(consent_scans::Column::ConsentId)
        .column(consent_scans::Column::ContentType)
        .column(consent_scans::Column::SizeBytes)
        .column(consent_scans::Column::UploadedAt)
        .filter(consent_scans::Column::ConsentId.is_in(consent_ids))
        .into_tuple()
        .all(&access.db())
        .await?;
    Ok(rows.into_iter().map(|(id, content_type, size_bytes, uploaded_at)| (id, ScanInfo { content_type, size_bytes, uploaded_at })).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scan_is_what_its_first_bytes_say_and_within_the_limit() {
        assert_eq!(content_type(b"%PDF-1.7 ...", Some("application/pdf")).unwrap(), "application/pdf");
        assert_eq!(content_type(b"\x89PNG\r\n\x1a\nrest", None).unwrap(), "image/png");
        assert_eq!(content_type(b"\xFF\xD8\xFF\xE0rest", Some("application/octet-stream")).unwrap(), "image/jpeg");
        assert!(content_type(b"", None).is_err());
        assert!(content_type(b"GIF89a", Some("image/gif")).is_err());
        assert!(content_type(b"<html>%PDF-", Some("application/pdf")).is_err());
        assert!(content_type(b"%PDF-1.7", Some("image/png")).is_err());
        let mut big = b"%PDF-".to_vec();
        big.resize(MAX_SCAN_BYTES + 1, b' ');
        assert!(content_type(&big, None).is_err());
    }
}
