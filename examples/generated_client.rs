//! Fetch one Shoplazza upload task with the generated, typed client:
//! `SHOPLAZZA_ACCESS_TOKEN=... cargo run --example generated_client -- <store-host> <task-id>`.

use unitask::providers::shoplazza;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(store), Some(task_id)) = (args.next(), args.next()) else {
        return Err("usage: generated_client <store-host> <task-id>".into());
    };
    let client = shoplazza::Client::from_env()?;
    let params = shoplazza::Params {
        store_domain: Some(store),
        api_version: None,
    };
    let record = client.status(&task_id, &params).await?;
    match record.status {
        shoplazza::Status::Completed => println!("completed: {}", record.task.state),
        shoplazza::Status::InProgress => println!("in progress"),
        shoplazza::Status::Other(native) => println!("undocumented status {native}"),
    }
    Ok(())
}
