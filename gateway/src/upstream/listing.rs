//! Listing one of an upstream's lists to the end: follows `nextCursor` page by page and keeps
//! the `ttlMs` of each page as the upstream sent it.
//!
//! rmcp's `list_all_*_with_cache_hint` reports the time left at the end of the listing instead,
//! which reads 0 when a short ttl ran out while later pages were fetched, and the gateway takes
//! 0 for "no freshness promise" (see [`super::refresh`]): a server with a short ttl and many
//! pages would then be re-listed at `syncInterval` instead of soon. The listing is also bounded,
//! so a server whose cursors never end fails the sync instead of keeping it busy forever.

use std::future::Future;

use rmcp::ErrorData;
use rmcp::model::PaginatedRequestParams;
use rmcp::service::ServiceError;

use super::refresh::merge_hints;

/// Most pages one list may have.
pub const MAX_PAGES: usize = 1_000;

/// One page as the upstream answered it.
pub struct Page<T> {
    /// The page's items.
    pub items: Vec<T>,
    /// The cursor of the next page; `None` on the last one.
    pub next_cursor: Option<String>,
    /// The page's `ttlMs`.
    pub ttl_ms: Option<u64>,
}

/// A whole list.
#[derive(Debug, PartialEq)]
pub struct Listed<T> {
    /// Every page's items, in order.
    pub items: Vec<T>,
    /// The shortest positive `ttlMs` of the pages (0 when they all said 0, `None` when none
    /// carried one): see [`merge_hints`].
    pub ttl_ms: Option<u64>,
}

/// Fetches pages with `page` (called with the previous page's cursor) until the last one.
pub async fn list_all<T, F, Fut>(mut page: F) -> Result<Listed<T>, ServiceError>
where
    F: FnMut(Option<PaginatedRequestParams>) -> Fut,
    Fut: Future<Output = Result<Page<T>, ServiceError>>,
{
    let mut items = Vec::new();
    let mut hints = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let params = cursor
            .take()
            .map(|c| PaginatedRequestParams::default().with_cursor(Some(c)));
        let p = page(params).await?;
        items.extend(p.items);
        hints.push(p.ttl_ms);
        match p.next_cursor {
            Some(next) => cursor = Some(next),
            None => {
                return Ok(Listed {
                    items,
                    ttl_ms: merge_hints(hints),
                });
            }
        }
    }
    Err(ServiceError::McpError(ErrorData::internal_error(
        format!(
            "the list did not end after {MAX_PAGES} pages (its nextCursor never stops); fix the server's pagination"
        ),
        None,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages of `(items, ttl)`; page `i` points at page `i + 1` with the cursor `"p<i+1>"`.
    async fn fake(
        pages: &[(Vec<u32>, Option<u64>)],
        params: Option<PaginatedRequestParams>,
    ) -> Result<Page<u32>, ServiceError> {
        let index = match params.and_then(|p| p.cursor) {
            None => 0,
            Some(c) => c
                .trim_start_matches('p')
                .parse::<usize>()
                .unwrap_or(usize::MAX),
        };
        let (items, ttl_ms) = pages
            .get(index)
            .cloned()
            .ok_or_else(|| ServiceError::McpError(ErrorData::invalid_params("bad cursor", None)))?;
        Ok(Page {
            items,
            next_cursor: (index + 1 < pages.len()).then(|| format!("p{}", index + 1)),
            ttl_ms,
        })
    }

    #[tokio::test]
    async fn follows_cursors_and_keeps_the_pages_own_ttls() {
        let pages = vec![
            (vec![1, 2], Some(30_000)),
            (vec![3], Some(1_000)),
            (vec![], None),
            (vec![4], Some(0)),
        ];
        let listed = list_all(|p| fake(&pages, p)).await.unwrap();
        assert_eq!(
            listed,
            Listed {
                items: vec![1, 2, 3, 4],
                ttl_ms: Some(1_000)
            }
        );
        let one = vec![(vec![7], None)];
        assert_eq!(
            list_all(|p| fake(&one, p)).await.unwrap(),
            Listed {
                items: vec![7],
                ttl_ms: None
            }
        );
    }

    #[tokio::test]
    async fn endless_cursors_fail_instead_of_listing_forever() {
        let mut calls = 0;
        let result = list_all(|_| {
            calls += 1;
            async {
                Ok::<_, ServiceError>(Page {
                    items: vec![0u8],
                    next_cursor: Some("again".into()),
                    ttl_ms: None,
                })
            }
        })
        .await;
        let Err(ServiceError::McpError(e)) = result else {
            panic!("an endless list was accepted")
        };
        assert!(e.message.contains("did not end"), "{}", e.message);
        assert_eq!(calls, MAX_PAGES);
    }
}
