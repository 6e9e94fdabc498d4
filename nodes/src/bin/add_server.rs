//! Serves `add_two_ints`: answers a + b, or an error when the sum overflows.
//!
//! Run with a master up: `add_server`, then `add_client 2 3`

use pinion::prelude::*;
use pinion_nodes::{AddTwoIntsRequest, AddTwoIntsResponse};

#[pinion::main]
async fn main(node: Node) -> pinion::Result<()> {
    let _server = node
        .serve("add_two_ints", |r: AddTwoIntsRequest| async move {
            r.a.checked_add(r.b)
                .map(|sum| AddTwoIntsResponse { sum })
                .ok_or_else(|| format!("{} + {} overflows", r.a, r.b))
        })
        .await?;
    tracing::info!("serving add_two_ints");
    node.spin().await;
    Ok(())
}
